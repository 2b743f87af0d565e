#!/bin/sh
# check_layering.sh SRC - fails when an include runs backwards.
#   traces/ (ground types) <- traces/formats <- traces/stats, traces/gen
#   traces/ (ground types only) <- planner <- sim <- cli; kernels beside
# and no CUDA or cli headers anywhere in the library.
src=$1
fail=0
# check DIR ALLOWED-REGEX WHAT: every quoted include of DIR's files must match
check() {
  hits=$(grep -nE '#include +"' "$src/$1"/*.[ch] 2>/dev/null | grep -vE "#include +\"($2)\"")
  if [ -n "$hits" ]; then echo "$1/ may include only $3:"; echo "$hits"; fail=1; fi
}
ground='traces/mp_[a-z_]+\.h'
check traces "$ground" "the ground types (traces/mp_*.h)"
check traces/formats "$ground|traces/formats/mp_[a-z_]+\.h" "the ground types and traces/formats/"
check traces/stats "$ground|traces/formats/mp_[a-z_]+\.h|traces/stats/mp_[a-z_]+\.h" \
  "the ground types, traces/formats/ and traces/stats/"
check traces/gen "$ground|traces/formats/mp_[a-z_]+\.h|traces/gen/mp_[a-z_]+\.h" \
  "the ground types, traces/formats/ and traces/gen/"
check planner "$ground|planner/mp_[a-z_]+\.h" "the ground types and planner/"
check sim "traces/([a-z]+/)?mp_[a-z_]+\.h|planner/mp_[a-z_]+\.h|sim/mp_[a-z_]+\.h" "traces/, planner/ and sim/"
# internal headers (mp__*.h) stay inside their folder
for d in traces traces/formats traces/stats traces/gen planner sim; do
  hits=$(grep -nE '#include +"[a-z/]+/mp__' "$src/$d"/*.[ch] 2>/dev/null | grep -vE "#include +\"$d/mp__")
  [ -n "$hits" ] && { echo "$d/ includes another folder's internal header:"; echo "$hits"; fail=1; }
done
for d in traces traces/formats traces/stats traces/gen planner sim; do
  hits=$(grep -nE '#include +<(cuda|cublas|nccl)' "$src/$d"/*.[ch] 2>/dev/null)
  [ -n "$hits" ] && { echo "$d/ must not include CUDA headers:"; echo "$hits"; fail=1; }
done
hits=$(grep -nE '#include +"cli/' "$src"/kernels/*.[ch] "$src"/kernels/*.cu 2>/dev/null)
[ -n "$hits" ] && { echo "kernels/ must not include cli/:"; echo "$hits"; fail=1; }
[ $fail -eq 0 ] && echo "layering ok"
exit $fail
