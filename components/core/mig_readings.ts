/**
 * What a MIG device's simulated readings are computed from, shared by dcgm-exporter's instance series and
 * nvidia-smi's MIG devices table so both show one instance: its parent GPU with the instance's UUID and
 * holder, and the parent's model with the profile's memory.
 *
 * @module
 */
import type { GpuModel, MigProfile } from "./model.ts";
import type { NodeGpuDevice, NodeMigDevice } from "./node_state.ts";

/** The profile of `model` named `name`, if the model has it. */
export function migProfile(model: GpuModel, name: string): MigProfile | undefined {
  return model.migProfiles.find((p) => p.name === name);
}

/** The parent's model with the memory of the instance's profile (the parent's memory for an unknown one). */
export function migInstanceModel(model: GpuModel, instance: NodeMigDevice): GpuModel {
  return { ...model, memoryMiB: migProfile(model, instance.profile)?.memoryMiB ?? model.memoryMiB };
}

/** The parent GPU as the instance: its identity and faults, the instance's UUID and holder. */
export function migInstanceDevice(parent: NodeGpuDevice, instance: NodeMigDevice): NodeGpuDevice {
  const { holders: _whole, loadSince: _load, ...identity } = parent;
  return { ...identity, uuid: instance.uuid, ...(instance.holder ? { holders: [instance.holder] } : {}) };
}
