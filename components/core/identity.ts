/**
 * Deterministic GPU identities: the UUID, PCI bus id and serial of each GPU on a node follow from the node
 * name and the GPU index alone, so every fakegpu role (and any outside tool) computes the same values.
 *
 * Derivations (`sha1(s)` is the lowercase hex SHA-1 of the UTF-8 string `s`):
 * - GPU UUID: `GPU-` + the first 32 hex digits of `sha1("fakegpu/gpu/<node>/<index>")`, split 8-4-4-4-12.
 *   Like real GPU UUIDs it has no RFC 4122 version or variant bits.
 * - Serial: `1` + (the first 16 hex digits of `sha1("fakegpu/serial/<node>/<index>")` as an unsigned
 *   integer, modulo 10^12, zero-padded to 12 digits): 13 digits.
 * - PCI bus id `%08X:%02X:%02X.0` (domain:bus:device): SXM boards use the DGX H100 HGX buses
 *   18,2A,3A,5D,9A,AB,BA,DB; PCIe boards the buses of an 8-slot PCIe server with switch pairs
 *   1A,1B,3D,3E,88,89,B1,B2. Index `i` gets bus `layout[i % 8]` in domain `floor(i / 8)`. Grace superchips
 *   (GH200, GB200) put GPU `i` at bus 01 in domain `0x8 + 0x10 * floor(i / 2) + i % 2` (0008, 0009, 0018, …).
 * - MIG device UUID: `MIG-` + the RFC 4122 version-5 UUID with the GPU UUID (without `GPU-`) as namespace
 *   and `"<giId>/<ciId>"` as name; Python: `uuid.uuid5(uuid.UUID(gpu_uuid[4:]), f"{gi}/{ci}")`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { GpuDevice, GpuModel } from "./model.ts";

/** Buses of the eight GPUs on an HGX H100 board (DGX H100). */
const HGX_BUSES = [0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB];
/** Buses of eight GPUs in a PCIe server, two per PCIe switch. */
const PCIE_BUSES = [0x1A, 0x1B, 0x3D, 0x3E, 0x88, 0x89, 0xB1, 0xB2];

const UUID_BODY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function sha1(data: string | Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(data).digest());
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function hexUpper(value: number, width: number): string {
  return value.toString(16).toUpperCase().padStart(width, "0");
}

function hexToBytes(hexDigits: string): Uint8Array {
  return Uint8Array.from(
    { length: hexDigits.length / 2 },
    (_, i) => parseInt(hexDigits.slice(2 * i, 2 * i + 2), 16),
  );
}

function dashed(hex32: string): string {
  return hex32.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5");
}

function gpuUuid(nodeName: string, index: number): string {
  return "GPU-" + dashed(hex(sha1(`fakegpu/gpu/${nodeName}/${index}`)).slice(0, 32));
}

function serialNumber(nodeName: string, index: number): string {
  const digest = hex(sha1(`fakegpu/serial/${nodeName}/${index}`));
  return "1" + (BigInt("0x" + digest.slice(0, 16)) % 10n ** 12n).toString().padStart(12, "0");
}

function pciBusId(model: GpuModel, index: number): string {
  let domain: number;
  let bus: number;
  if (model.superchip) {
    domain = 0x8 + 0x10 * Math.floor(index / 2) + index % 2;
    bus = 0x01;
  } else {
    const layout = model.formFactor === "sxm" ? HGX_BUSES : PCIE_BUSES;
    domain = Math.floor(index / layout.length);
    bus = layout[index % layout.length];
  }
  return `${hexUpper(domain, 8)}:${hexUpper(bus, 2)}:00.0`;
}

/**
 * Devices by node, model and count: deriving them again (two SHA-1 per GPU) on every reconcile of a 1000-node
 * fleet adds up. Frozen, as every caller gets the same objects.
 */
const derived = new Map<string, readonly GpuDevice[]>();
const DERIVED_MAX = 20_000;

/**
 * The identities of the GPUs on one node, index 0 to `count - 1` (the index is also the minor number).
 * The same node name, model layout and count always give the same devices (frozen: they are shared).
 *
 * @param nodeName Kubernetes node name.
 * @param model The GPU model; its form factor (and `superchip`) decides the PCI bus layout.
 * @param count GPUs on the node.
 * @throws {RangeError} When `count` is not a non-negative integer.
 */
export function gpuDevices(nodeName: string, model: GpuModel, count: number): readonly GpuDevice[] {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`Cannot derive GPU identities: count must be a non-negative integer, got ${count}`);
  }
  const key = `${nodeName}/${model.formFactor}/${model.superchip ?? false}/${count}`;
  let devices = derived.get(key);
  if (!devices) {
    devices = Object.freeze(Array.from({ length: count }, (_, index) =>
      Object.freeze({
        index,
        uuid: gpuUuid(nodeName, index),
        pciBusId: pciBusId(model, index),
        serial: serialNumber(nodeName, index),
      })));
    if (derived.size >= DERIVED_MAX) derived.clear();
    derived.set(key, devices);
  }
  return devices;
}

/**
 * The UUID of the MIG device with GPU-instance id `giId` and compute-instance id `ciId` on a GPU:
 * `MIG-` + 8-4-4-4-12 lowercase hex whose third group starts with `5`, as real R470+ drivers print it.
 *
 * @param gpuUuid The parent GPU's `GPU-…` UUID.
 * @throws {TypeError} When `gpuUuid` is not a `GPU-` UUID.
 */
export function migDeviceUuid(gpuUuid: string, giId: number, ciId: number): string {
  const body = gpuUuid.startsWith("GPU-") ? gpuUuid.slice(4).toLowerCase() : "";
  if (!UUID_BODY.test(body)) {
    throw new TypeError(`Cannot derive a MIG UUID: "${gpuUuid}" is not a GPU UUID`);
  }
  const namespace = hexToBytes(body.replaceAll("-", ""));
  const name = new TextEncoder().encode(`${giId}/${ciId}`);
  const bytes = sha1(new Uint8Array([...namespace, ...name])).slice(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return "MIG-" + dashed(hex(bytes));
}
