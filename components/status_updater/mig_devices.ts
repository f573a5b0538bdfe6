/**
 * MIG devices of a node's GPUs and the pods that hold them: a pod asking for `nvidia.com/mig-<profile>: N`
 * gets N free MIG devices of that profile (strategy `mixed`), or, under strategy `single`, a pod asking for
 * `nvidia.com/gpu: N` gets N MIG devices, by the same rules as whole GPUs (`assignGpus`: pods keep what they
 * hold, oldest pod first, lowest GPU and slot first, all or nothing).
 *
 * @module
 */
import { assignGpus, GPU_RESOURCE, type PodLike, type UnsatisfiedPod } from "../core/allocation.ts";
import { type MigDevice, migDevices, type MigLayout, migResourceName } from "../core/mig_layout.ts";
import type { GpuHolder, NodeGpuDevice, NodeMigDevice, UtilizationRange } from "../core/node_state.ts";

/** Whether any container of a pod asks for a `nvidia.com/mig-<profile>` resource. */
export function asksForMigDevices(pod: PodLike): boolean {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].some((c) =>
    Object.keys({ ...c.resources?.limits, ...c.resources?.requests }).some((name) =>
      name.startsWith(migResourceName(""))
    )
  );
}

/** A MIG device allocated through a ResourceClaim: its holder, absent while none of the claim's pods runs. */
export interface MigClaim {
  /** The pod holding the MIG device. */
  holder?: GpuHolder;
}

/**
 * The GPUs with the MIG devices `layout` gives them (UUIDs from each parent's UUID) and their holders; a MIG
 * device keeps the holder `previous` records for its UUID while that pod still holds resources. With
 * `asGpus` (strategy `single`) every MIG device is handed out as one `nvidia.com/gpu`. A MIG device
 * `claimOf` returns a claim for is held by the claim's holder and handed out to no other pod.
 */
export function assignMigDevices(
  devices: NodeGpuDevice[],
  layout: MigLayout,
  previous: NodeGpuDevice[],
  pods: PodLike[],
  utilizationOf?: (pod: PodLike) => UtilizationRange | undefined,
  asGpus = false,
  claimOf: (gpu: NodeGpuDevice, mig: MigDevice) => MigClaim | undefined = () => undefined,
): { devices: NodeGpuDevice[]; unsatisfied: UnsatisfiedPod[] } {
  const held = new Map(previous.flatMap((d) => (d.mig ?? []).map((m) => [m.uuid, m.holder])));
  const claimed = new Map<string, MigClaim>();
  const all: NodeMigDevice[][] = devices.map((d) =>
    migDevices(d.uuid, layout[d.index] ?? []).map((m) => {
      const claim = claimOf(d, m);
      if (claim) claimed.set(m.uuid, claim);
      const holder = held.get(m.uuid);
      return holder ? { ...m, holder } : m;
    })
  );
  const free = all.flat().filter((m) => !claimed.has(m.uuid));
  const unsatisfied: UnsatisfiedPod[] = [];
  const holders = new Map<string, GpuHolder>();
  const groups = asGpus
    ? [{ resource: GPU_RESOURCE, slots: free }]
    : [...new Set(free.map((m) => m.profile))].map((profile) => ({
      resource: migResourceName(profile),
      slots: free.filter((m) => m.profile === profile),
    }));
  for (const { resource, slots } of groups) {
    // assignGpus hands out devices by index; each slot of the group stands in as one.
    const assignment = assignGpus(
      slots.map((m, index) => ({
        index,
        uuid: m.uuid,
        pciBusId: "",
        serial: "",
        ...(m.holder ? { holders: [m.holder] } : {}),
      })),
      pods,
      { resource, utilizationOf },
    );
    for (const slot of assignment.devices) if (slot.holders) holders.set(slot.uuid, slot.holders[0]);
    unsatisfied.push(...assignment.unsatisfied);
  }
  const withHolders = all.map((gpu) =>
    gpu.map(({ holder: _old, ...m }) => {
      const holder = claimed.has(m.uuid) ? claimed.get(m.uuid)?.holder : holders.get(m.uuid);
      return holder ? { ...m, holder } : m;
    })
  );
  return {
    devices: devices.map((d, i) => withHolders[i].length > 0 ? { ...d, mig: withHolders[i] } : d),
    unsatisfied,
  };
}
