/**
 * Which GPUs a caller sees: `NVIDIA_VISIBLE_DEVICES` as the NVIDIA container runtime reads it (indices or
 * UUIDs separated by commas, `all`, `none`/`void`/empty for none; unset: the host's view, every GPU), and
 * `-i` (index as seen, UUID or PCI bus id) on top. Inside a container NVML numbers the visible GPUs from 0
 * in bus order while the minor number stays the node's index.
 *
 * @module
 */
import type { NodeGpuDevice } from "../core/node_state.ts";
import type { SmiGpu } from "./view.ts";

/** The devices `NVIDIA_VISIBLE_DEVICES` (undefined: unset) makes visible, in node order. */
export function visibleDevices(devices: NodeGpuDevice[], env: string | undefined): NodeGpuDevice[] {
  if (env === undefined || env.trim() === "all") return devices;
  const wanted = env.split(",").map((s) => s.trim()).filter((s) => s !== "" && s !== "none" && s !== "void");
  return devices.filter((d) => wanted.includes(String(d.index)) || wanted.includes(d.uuid));
}

/** Normalises a PCI bus id to NVML's `%08X:%02X:%02X.0` (accepts `0000:1a:00.0` and `1A:00.0`). */
function fullBusId(text: string): string | undefined {
  const m = /^(?:([0-9a-f]{1,8}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.0$/i.exec(text);
  if (!m) return undefined;
  const [, domain = "0", bus, device] = m;
  return `${domain.padStart(8, "0")}:${bus.padStart(2, "0")}:${device.padStart(2, "0")}.0`.toUpperCase();
}

/** The GPUs `-i` selects (comma-separated indices, UUIDs or bus ids), in the order they are shown. */
export function selectGpus(gpus: SmiGpu[], ids: string | undefined): SmiGpu[] {
  if (ids === undefined) return gpus;
  const wanted = ids.split(",").map((s) => s.trim());
  return gpus.filter((g) =>
    wanted.some((w) => w === String(g.index) || w === g.uuid || fullBusId(w) === g.pciBusId)
  );
}
