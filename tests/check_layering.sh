#!/bin/sh
# check_layering.sh SRC - fails when an include runs backwards:
# traces <- planner <- sim <- cli, kernels beside; no CUDA or cli headers in the library.
src=$1
fail=0
check() { # dir, forbidden-pattern, what
  hits=$(grep -nE "#include +\"($2)/" "$src/$1"/*.[ch] 2>/dev/null)
  if [ -n "$hits" ]; then echo "$1/ must not include $3:"; echo "$hits"; fail=1; fi
}
check traces 'planner|sim|cli|kernels' "planner/, sim/, cli/ or kernels/"
check planner 'sim|cli|kernels' "sim/, cli/ or kernels/"
check sim 'cli|kernels' "cli/ or kernels/"
for d in traces planner sim; do
  hits=$(grep -nE '#include +<(cuda|cublas|nccl)' "$src/$d"/*.[ch] 2>/dev/null)
  [ -n "$hits" ] && { echo "$d/ must not include CUDA headers:"; echo "$hits"; fail=1; }
done
[ $fail -eq 0 ] && echo "layering ok"
exit $fail
