/**
 * Role `nvidia-smi`: prints the simulated GPUs visible to the caller in the real tool's formats (default
 * table with processes, `-L`, `--query-gpu`/`--query-compute-apps` CSV, `-q`), for the driver layout of
 * the pool, with the values dcgm-exporter serves at the same instant. Also chosen when the executable runs
 * under the name `nvidia-smi`. Outside a pod: `fakegpu nvidia-smi --kubeconfig … --node <node> [flags]`.
 *
 * @module
 */
import { parseSmiArgs, SmiExit, type SmiRequest } from "./args.ts";
import { layoutFor } from "./layout.ts";
import {
  APP_FIELDS,
  GPU_FIELDS,
  type GpuProcess,
  parseFormat,
  renderCsv,
  renderList,
  resolveFields,
  UnknownFieldError,
} from "./query.ts";
import { renderReport } from "./report.ts";
import { readNodeState } from "./source.ts";
import { renderTable } from "./table.ts";
import { systemView } from "./view.ts";
import { selectGpus, visibleDevices } from "./visible.ts";

/** `nvidia-smi --help`. */
const HELP_TEXT = `NVIDIA System Management Interface -- fakegpu simulation

nvidia-smi [OPTION1 [ARG1]] [OPTION2 [ARG2]] ...

    -h,   --help                Print usage information and exit.
    -L,   --list-gpus           Display a list of GPUs connected to the system.
    -q,   --query               Display GPU or Unit info.
    -i,   --id=                 Target a specific GPU (index, UUID or PCI bus id; comma-separated).
    -d,   --display=            Display only selected information: MEMORY, UTILIZATION, ECC, TEMPERATURE,
                                POWER, CLOCK, COMPUTE, PIDS, PERFORMANCE (comma-separated). Used with -q.
    --query-gpu=                Information about GPU; --help-query-gpu style field names.
    --query-compute-apps=       List of active compute processes (pid, process_name, used_memory, gpu_uuid, ...).
    --format=                   csv, with the modifiers noheader and nounits (comma-separated).

fakegpu:
    --kubeconfig=               kubeconfig to read the node state with (else $KUBECONFIG, in-cluster, ~/.kube/config)
    --namespace=                fakegpu's namespace (default gpu-operator) [env FAKEGPU_NAMESPACE]
    --node=                     the node whose GPUs to show [env NODE_NAME, FAKEGPU_NODE]
    NVIDIA_VISIBLE_DEVICES      GPUs visible to the caller: indices or UUIDs, all, none/void (unset: all)
`;

/** Writes all of `text` to stdout (a pipe may take less than a whole write). */
function write(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
}

/** Rejects bad `--format` and fields before anything is read, as the real tool does. */
function checkQuery(request: SmiRequest): void {
  if (request.kind !== "query-gpu" && request.kind !== "query-apps") return;
  if (!parseFormat(request.format)) throw new SmiExit("Format modifier is not recognized.", 2);
  try {
    if (request.kind === "query-gpu") resolveFields(request.fields, GPU_FIELDS);
    else resolveFields(request.fields, APP_FIELDS);
  } catch (err) {
    if (err instanceof UnknownFieldError) throw new SmiExit(`${err.message}\n`, 2);
    throw err;
  }
}

/** The static facts known without the state: the GPU UUIDs the container runtime was given. */
function knownUuids(env: string | undefined): string {
  const uuids = (env ?? "").split(",").map((s) => s.trim()).filter((s) => s.startsWith("GPU-"));
  return uuids.map((uuid, i) => `GPU ${i}: (UUID: ${uuid})\n`).join("");
}

/** Runs nvidia-smi with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const env = Deno.env.toObject();
  try {
    const { request, source } = parseSmiArgs(args, env);
    if (request.kind === "help") {
      write(HELP_TEXT);
      return 0;
    }
    checkQuery(request);
    const result = await readNodeState(source);
    if ("missing" in result) {
      write(
        `${knownUuids(env.NVIDIA_VISIBLE_DEVICES)}fakegpu nvidia-smi: ${result.missing}; ` +
          "product, memory, readings and processes are unknown\n",
      );
      return 9;
    }
    const { state } = result;
    const system = systemView(state, visibleDevices(state.devices, env.NVIDIA_VISIBLE_DEVICES), new Date());
    for (const bus of system.lost) {
      write(`Unable to determine the device handle for GPU${bus.slice(4)}: Unknown Error\n`);
    }
    const gpus = selectGpus(system.gpus, request.kind === "list" ? undefined : request.ids);
    if (gpus.length === 0) throw new SmiExit("No devices were found", 6);
    switch (request.kind) {
      case "table":
        write(renderTable(system, gpus, layoutFor(state.gpu.driverVersion)));
        break;
      case "list":
        write(renderList(gpus));
        break;
      case "report":
        write(renderReport(system, gpus, request.display));
        break;
      case "query-gpu":
        write(
          renderCsv(resolveFields(request.fields, GPU_FIELDS), gpus, system, parseFormat(request.format)!),
        );
        break;
      case "query-apps": {
        const apps: GpuProcess[] = gpus.flatMap((gpu) => gpu.processes.map((process) => ({ gpu, process })));
        write(
          renderCsv(resolveFields(request.fields, APP_FIELDS), apps, system, parseFormat(request.format)!),
        );
        break;
      }
    }
    return 0;
  } catch (err) {
    if (!(err instanceof SmiExit)) throw err;
    write(`${err.message}\n`);
    return err.code;
  }
}
