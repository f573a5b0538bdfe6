/**
 * MIG layouts: which GPU instances each GPU of a node is cut into, as NVIDIA's mig-parted configures them.
 * A layout is named as in mig-parted's default config (`all-disabled`, `all-balanced`, `all-<profile>`, e.g.
 * `all-1g.10gb`) or given explicitly as the profiles of one GPU (applied to every GPU) or of each GPU.
 *
 * A layout is checked against the model's MIG table (§6.6 of the reference): each profile exists, no profile
 * exceeds its count, and the instances fit the GPU's memory slices at the placements the driver allows
 * (an instance of `s` slices starts at a multiple of `s`; a profile has as many starts as its count). The
 * GPU-instance id is the one the driver gives that placement (7g → 0; 4 slices at 0/4 → 1/2; 2 slices at
 * 0/2/4/6 → 3–6; 1 slice at 0–6 → 7–13), so a MIG device's UUID is stable for a node, GPU and slot.
 *
 * @module
 */
import { migDeviceUuid } from "./identity.ts";
import type { GpuModel, MigProfile } from "./model.ts";

/** A MIG layout as a config or the `nvidia.com/mig.config` label gives it. */
export type MigLayoutSpec = string | string[] | string[][];

/** The layout without MIG: every GPU whole. */
export const MIG_DISABLED = "all-disabled";

/** One GPU instance of a layout on one GPU (one compute instance spanning it, as the device plugin uses). */
export interface MigInstance {
  /** Profile name, e.g. `1g.10gb`. */
  profile: string;
  /** NVML GPU-instance id the driver gives this placement. */
  giId: number;
  /** First memory slice. */
  placementStart: number;
  /** Memory slices. */
  placementSize: number;
}

/** A layout resolved for a model: the instances of each GPU (empty lists when MIG is off). */
export type MigLayout = MigInstance[][];

/** Thrown when a layout does not fit the model; the message says why. */
export class MigLayoutError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "MigLayoutError";
  }
}

/** Memory slices of one instance of a profile; the largest profile spans the whole GPU. */
function sliceSize(model: GpuModel, profile: MigProfile): number {
  const smallest = Math.min(...model.migProfiles.map((p) => p.memoryMiB));
  return Math.round(profile.memoryMiB / smallest);
}

function totalSlices(model: GpuModel): number {
  return Math.max(...model.migProfiles.map((p) => sliceSize(model, p)));
}

/** Compute slices of a profile: the `N` of `Ng.…`. */
function computeSlices(profile: string): number {
  return Number(/^(\d+)g\./.exec(profile)?.[1] ?? 1);
}

/** The profiles mig-parted's `all-balanced` puts on one GPU: 2 × the smallest 1g, one 2g and one 3g. */
function balanced(model: GpuModel): string[] {
  const smallest = (prefix: string) =>
    model.migProfiles.filter((p) => p.name.startsWith(prefix) && !p.name.includes("+"))
      .sort((a, b) => a.memoryMiB - b.memoryMiB)[0]?.name;
  return [smallest("1g."), smallest("1g."), smallest("2g."), smallest("3g.")]
    .filter((name): name is string => name !== undefined);
}

/** The profiles of each of `gpuCount` GPUs that a spec names. */
function profilesPerGpu(model: GpuModel, spec: MigLayoutSpec, gpuCount: number): string[][] {
  if (typeof spec === "string") {
    if (spec === MIG_DISABLED) return Array.from({ length: gpuCount }, () => []);
    if (spec === "all-balanced") return Array.from({ length: gpuCount }, () => balanced(model));
    const profile = model.migProfiles.find((p) => `all-${p.name}` === spec);
    if (!profile) {
      const known = [MIG_DISABLED, "all-balanced", ...model.migProfiles.map((p) => `all-${p.name}`)];
      throw new MigLayoutError(`unknown MIG config "${spec}" for ${model.name}; known: ${known.join(", ")}`);
    }
    return Array.from({ length: gpuCount }, () => Array(profile.maxCount).fill(profile.name));
  }
  if (spec.every((entry) => typeof entry === "string")) {
    return Array.from({ length: gpuCount }, () => [...spec as string[]]);
  }
  if (spec.length !== gpuCount) {
    throw new MigLayoutError(`lists the profiles of ${spec.length} GPUs, but the node has ${gpuCount}`);
  }
  return spec.map((gpu) => typeof gpu === "string" ? [gpu] : [...gpu]);
}

/** Places one GPU's profiles on its slices (largest first, backtracking), or says why they do not fit. */
function placeGpu(model: GpuModel, names: string[], gpu: number): MigInstance[] {
  const where = `GPU ${gpu}`;
  const profiles = names.map((name) => {
    const profile = model.migProfiles.find((p) => p.name === name);
    if (!profile) {
      const known = model.migProfiles.map((p) => p.name).join(", ");
      throw new MigLayoutError(`${where}: ${model.name} has no MIG profile "${name}"; known: ${known}`);
    }
    return profile;
  });
  for (const profile of new Set(profiles)) {
    const count = profiles.filter((p) => p === profile).length;
    if (count > profile.maxCount) {
      throw new MigLayoutError(
        `${where}: ${count} × ${profile.name}, but at most ${profile.maxCount} fit on ${model.name}`,
      );
    }
  }
  const compute = profiles.reduce((sum, p) => sum + computeSlices(p.name), 0);
  const slices = totalSlices(model);
  const maxCompute = computeSlices(model.migProfiles.find((p) => sliceSize(model, p) === slices)!.name);
  if (compute > maxCompute) {
    throw new MigLayoutError(`${where}: needs ${compute} compute slices, ${model.name} has ${maxCompute}`);
  }
  const order = [...profiles].sort((a, b) => sliceSize(model, b) - sliceSize(model, a));
  const used: boolean[] = Array(slices).fill(false);
  const placed: MigInstance[] = [];
  const place = (i: number): boolean => {
    if (i === order.length) return true;
    const profile = order[i];
    const size = sliceSize(model, profile);
    const base = profile.name.replace(/\+.*$/, "");
    const starts = model.migProfiles.find((p) => p.name === base)?.maxCount ?? profile.maxCount;
    for (let k = 0; k < starts; k++) {
      const start = k * size;
      if (start + size > slices || used.slice(start, start + size).some(Boolean)) continue;
      used.fill(true, start, start + size);
      placed.push({
        profile: profile.name,
        giId: slices / size - 1 + k,
        placementStart: start,
        placementSize: size,
      });
      if (place(i + 1)) return true;
      placed.pop();
      used.fill(false, start, start + size);
    }
    return false;
  };
  if (!place(0)) {
    throw new MigLayoutError(
      `${where}: ${names.join(" + ")} do not fit the ${slices} memory slices together`,
    );
  }
  return placed.sort((a, b) => a.placementStart - b.placementStart);
}

/**
 * Resolves a layout for `gpuCount` GPUs of a model.
 *
 * @throws {MigLayoutError} When the model has no MIG, a profile is unknown, a count is exceeded, or the
 *   instances do not fit the GPU's slices.
 */
export function resolveMigLayout(model: GpuModel, spec: MigLayoutSpec, gpuCount: number): MigLayout {
  if (spec === MIG_DISABLED) return Array.from({ length: gpuCount }, () => []);
  if (model.migProfiles.length === 0) throw new MigLayoutError(`${model.name} does not support MIG`);
  return profilesPerGpu(model, spec, gpuCount).map((names, gpu) => placeGpu(model, names, gpu));
}

/** Extended resource of a MIG profile under the mixed strategy, e.g. `nvidia.com/mig-1g.10gb`. */
export function migResourceName(profile: string): string {
  return `nvidia.com/mig-${profile}`;
}

/**
 * Name under which dra-plugin publishes a MIG device of GPU `minor` (the driver's static MIG naming, §5.1):
 * `gpu-<minor>-mig-<profile without . and +>-<giProfileId>-<placementStart>`, e.g. `gpu-0-mig-1g10gb-19-0`.
 */
export function migDraDeviceName(model: GpuModel, minor: number, instance: MigInstance): string {
  const giProfileId = model.migProfiles.find((p) => p.name === instance.profile)?.giProfileId ?? 0;
  return `gpu-${minor}-mig-${
    instance.profile.replace(/[.+]/g, "")
  }-${giProfileId}-${instance.placementStart}`;
}

/** A MIG device of a node: an instance with the UUID the driver would report for it. */
export interface MigDevice extends MigInstance {
  /** `MIG-…` UUID, stable for the parent GPU and GPU-instance id. */
  uuid: string;
}

/** The MIG devices of one GPU, with their UUIDs derived from the parent's UUID. */
export function migDevices(gpuUuid: string, instances: MigInstance[]): MigDevice[] {
  return instances.map((instance) => ({ ...instance, uuid: migDeviceUuid(gpuUuid, instance.giId, 0) }));
}
