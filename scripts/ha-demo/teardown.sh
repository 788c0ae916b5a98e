#!/bin/bash
T=$1
for n in hab has1 has2 hac; do ip netns del $n$T 2>/dev/null; done
true
