#!/bin/sh
# shift_trace.sh STEPS TOKENS SHIFT > trace.csv - a routing trace in moeplace's
# CSV form whose popularity moves at step SHIFT: 1 MoE layer, 8 experts, top-1;
# 80% of tokens go to four hot experts (0-3 before the shift, 0 4 1 5 after),
# 20% anywhere.  Integer LCG (Park-Miller), so the output is the same everywhere.
steps=${1:-200} tokens=${2:-256} shift=${3:-100}
awk -v S="$steps" -v T="$tokens" -v H="$shift" 'BEGIN {
  print "# moeplace-csv 1 {\"name\":\"shift-test\",\"layers\":1,\"experts\":8,\"top_k\":1,\"groups\":1,\"topk_group\":1,\"shared\":0,\"hidden\":1024,\"intermediate\":512,\"scoring\":\"softmax\",\"normalize_topk\":true,\"routed_scaling\":1}"
  print "step,token,layer,e0"
  split("0 1 2 3", before, " "); split("0 4 1 5", after, " ")
  x = 12345
  for (s = 0; s < S; s++)
    for (t = 0; t < T; t++) {
      x = (x * 16807) % 2147483647; r = x % 100
      if (r < 80) e = (s < H) ? before[int(r / 20) + 1] : after[int(r / 20) + 1]
      else { x = (x * 16807) % 2147483647; e = x % 8 }
      print s "," t ",0," e
    }
}'
