#!/usr/bin/env bash
# Rewrites the captures of the REAL nvidia-smi in tests/nvidia_smi/real/ (see real_smi.sh for what it needs):
# the HGX H100 profile of NVIDIA's mock NVML idle, and `busy` (GPU 0 at 64 %, 51 C, 412.345 W, 40459 MiB
# used, two processes), for real_layout_test.ts and cli_test.ts. Maintainer's tool, not run by CI.
#
#   MOCKNVML_SRC=~/src/k8s-test-infra bash tests/nvidia_smi/capture_real.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT="$HERE/real"
SRC=${MOCKNVML_SRC:?set MOCKNVML_SRC to a k8s-test-infra checkout}
IDLE="$SRC/pkg/gpu/mocknvml/configs/mock-nvml-config-h100.yaml"
BUSY=$(mktemp --suffix=.yaml)
trap 'rm -f "$BUSY"' EXIT

sed -e '0,/^    gpu: 0$/s//    gpu: 64/' -e '0,/^    memory: 0$/s//    memory: 31/' \
  -e '0,/current_draw_mw: 95000/s//current_draw_mw: 412345/' \
  -e '0,/temperature_gpu_c: 34/s//temperature_gpu_c: 51/' \
  -e '0,/^    used_bytes: 0$/s//    used_bytes: 42424336384/' \
  -e '0,/free_bytes: 84825604096/s//free_bytes: 42401267712/' \
  -e '0,/^  processes: \[\]$/s//  processes:\n    - { pid: 4242, type: C, name: python3, used_memory_mib: 40459 }\n    - { pid: 123456789, type: C, name: \/usr\/local\/bin\/a-very-long-process-name-for-the-column-width, used_memory_mib: 1 }/' \
  "$IDLE" > "$BUSY"

idle() { MOCK_NVML_CONFIG=$IDLE bash "$HERE/real_smi.sh" "$@"; }
busy() { MOCK_NVML_CONFIG=$BUSY bash "$HERE/real_smi.sh" "$@"; }

idle -i 0 > "$OUT/default_idle.txt"
busy -i 0 > "$OUT/default_busy.txt"
idle -L > "$OUT/list.txt"
busy -i 0 --format=csv --query-gpu=timestamp,driver_version,count,index,name,serial,uuid,pci.bus_id,pci.domain,pci.bus,pci.device_id,persistence_mode,pstate,fan.speed,memory.total,memory.reserved,memory.used,memory.free,compute_mode,compute_cap,utilization.gpu,utilization.memory,temperature.gpu,temperature.memory,power.draw,power.limit,clocks.gr,clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem,mig.mode.current,ecc.mode.current > "$OUT/query_busy.txt"
busy -i 0 --query-gpu=index,memory.used,power.draw,utilization.gpu,fan.speed --format=csv,noheader,nounits > "$OUT/query_busy_noheader_nounits.txt"
busy -i 0 --query-compute-apps=pid,process_name,used_memory,gpu_uuid,gpu_bus_id --format=csv > "$OUT/query_apps_busy.txt"
busy -q -i 0 -d MEMORY,UTILIZATION,TEMPERATURE,POWER,CLOCK,PERFORMANCE,PIDS,ECC,COMPUTE > "$OUT/q_sections_busy.txt"
# The mock makes the full -q crash after the IBMNPU heading: keep what comes before it.
(idle -q -i 0 2>/dev/null || true) | sed '/IBMNPU/,$d' > "$OUT/q_head_idle.txt"
for c in "--bogus" "--query-gpu=index,foo --format=csv" "--query-gpu=index" "-i 9" "-L -i 0" \
  "--query-gpu=index --format=json"; do
  echo "\$ nvidia-smi $c"
  # shellcheck disable=SC2086 # split the options
  idle $c 2>&1 && echo "exit 0" || echo "exit $?"
done > "$OUT/errors.txt"
