/**
 * The DCGM fields the exporter can serve: how each is read from the simulated {@link GpuReadings}, whether
 * DCGM reports it as an integer (`%d`) or a double (`%f`), and the label-type fields that become labels on
 * every series. Also dcgm-exporter's default counters file, in its CSV format.
 *
 * @module
 */
import type { GpuReadings } from "../core/telemetry.ts";
import type { NodeGpuDevice, NodeGpuState } from "../core/node_state.ts";

/** A numeric field: its DCGM value type and how to read it (undefined = DCGM blank, no series). */
export interface ValueField {
  /** `int` fields print with `%d`, `double` fields with six decimals. */
  kind: "int" | "double";
  /** The field's value for one GPU. */
  read: (r: GpuReadings) => number | undefined;
}

/** A label-type field: printed as a label on every series of the GPU. */
export interface LabelField {
  /** Marks a label field. */
  kind: "label";
  /** The label value for one GPU. */
  read: (state: NodeGpuState, device: NodeGpuDevice) => string;
}

/** Any field the exporter knows. */
export type DcgmField = ValueField | LabelField;

const int = (read: ValueField["read"]): ValueField => ({ kind: "int", read });
const double = (read: ValueField["read"]): ValueField => ({ kind: "double", read });
const zero = int(() => 0);
/** NVLink error counters exist only on boards with NVLink (DCGM reports blank elsewhere). */
const nvlinkZero = int((r) => r.nvlinkBandwidthTotal === undefined ? undefined : 0);

/** Every DCGM field fakegpu simulates, by its `DCGM_FI_*` name. */
export const DCGM_FIELDS: Readonly<Record<string, DcgmField>> = {
  DCGM_FI_DEV_SM_CLOCK: int((r) => r.smClockMHz),
  DCGM_FI_DEV_MEM_CLOCK: int((r) => r.memClockMHz),
  DCGM_FI_DEV_MEMORY_TEMP: int((r) => r.memoryTempC),
  DCGM_FI_DEV_GPU_TEMP: int((r) => r.gpuTempC),
  DCGM_FI_DEV_POWER_USAGE: double((r) => r.powerW),
  DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION: int((r) => r.energyMJ),
  DCGM_FI_DEV_PCIE_REPLAY_COUNTER: zero,
  DCGM_FI_DEV_GPU_UTIL: int((r) => r.gpuUtil),
  DCGM_FI_DEV_MEM_COPY_UTIL: int((r) => r.memCopyUtil),
  DCGM_FI_DEV_ENC_UTIL: zero,
  DCGM_FI_DEV_DEC_UTIL: zero,
  DCGM_FI_DEV_XID_ERRORS: int((r) => r.xid),
  DCGM_FI_DEV_POWER_VIOLATION: zero,
  DCGM_FI_DEV_THERMAL_VIOLATION: int((r) => r.violationNs.thermal),
  DCGM_FI_DEV_SYNC_BOOST_VIOLATION: zero,
  DCGM_FI_DEV_BOARD_LIMIT_VIOLATION: zero,
  DCGM_FI_DEV_LOW_UTIL_VIOLATION: zero,
  DCGM_FI_DEV_RELIABILITY_VIOLATION: zero,
  DCGM_FI_DEV_CLOCKS_EVENT_REASONS: int((r) => r.clockEventReasons),
  DCGM_FI_DEV_CLOCK_THROTTLE_REASONS: int((r) => r.clockEventReasons),
  DCGM_FI_DEV_FB_TOTAL: int((r) => r.fb.total),
  DCGM_FI_DEV_FB_FREE: int((r) => r.fb.free),
  DCGM_FI_DEV_FB_USED: int((r) => r.fb.used),
  DCGM_FI_DEV_FB_RESERVED: int((r) => r.fb.reserved),
  DCGM_FI_DEV_ECC_SBE_VOL_TOTAL: int((r) => r.ecc.correctable),
  DCGM_FI_DEV_ECC_DBE_VOL_TOTAL: int((r) => r.ecc.uncorrectable),
  DCGM_FI_DEV_ECC_SBE_AGG_TOTAL: int((r) => r.ecc.correctable),
  DCGM_FI_DEV_ECC_DBE_AGG_TOTAL: int((r) => r.ecc.uncorrectable),
  DCGM_FI_DEV_RETIRED_SBE: int((r) => r.retiredPages.sbe),
  DCGM_FI_DEV_RETIRED_DBE: int((r) => r.retiredPages.dbe),
  DCGM_FI_DEV_RETIRED_PENDING: int((r) => r.retiredPages.pending),
  DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL: nvlinkZero,
  DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL: nvlinkZero,
  DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL: nvlinkZero,
  DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL: nvlinkZero,
  DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL: int((r) => r.nvlinkBandwidthTotal),
  DCGM_FI_DEV_VGPU_LICENSE_STATUS: zero,
  DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS: int((r) => r.remappedRows.uncorrectable),
  DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS: int((r) => r.remappedRows.correctable),
  DCGM_FI_DEV_ROW_REMAP_FAILURE: int((r) => r.remappedRows.failed ? 1 : 0),
  DCGM_FI_PROF_GR_ENGINE_ACTIVE: double((r) => r.prof.grEngineActive),
  DCGM_FI_PROF_SM_ACTIVE: double((r) => r.prof.smActive),
  DCGM_FI_PROF_SM_OCCUPANCY: double((r) => r.prof.smOccupancy),
  DCGM_FI_PROF_PIPE_TENSOR_ACTIVE: double((r) => r.prof.tensorActive),
  DCGM_FI_PROF_DRAM_ACTIVE: double((r) => r.prof.dramActive),
  DCGM_FI_PROF_PIPE_FP64_ACTIVE: double((r) => r.prof.fp64Active),
  DCGM_FI_PROF_PIPE_FP32_ACTIVE: double((r) => r.prof.fp32Active),
  DCGM_FI_PROF_PIPE_FP16_ACTIVE: double((r) => r.prof.fp16Active),
  DCGM_FI_PROF_PCIE_TX_BYTES: int((r) => r.prof.pcieTxBytes),
  DCGM_FI_PROF_PCIE_RX_BYTES: int((r) => r.prof.pcieRxBytes),
  DCGM_FI_DRIVER_VERSION: { kind: "label", read: (state) => state.gpu.driverVersion },
  DCGM_FI_NVML_VERSION: { kind: "label", read: (state) => `12.${state.gpu.driverVersion}` },
  DCGM_FI_DEV_BRAND: { kind: "label", read: () => "NVIDIA" },
  DCGM_FI_DEV_SERIAL: { kind: "label", read: (_state, device) => device.serial },
};

/** The field whose series carry `err_code` and `err_msg`. */
export const XID_FIELD = "DCGM_FI_DEV_XID_ERRORS";

/**
 * dcgm-exporter's `default-counters.csv` (release 4.5.3-4.8.2): what is exported when no counters file is
 * given. Commented lines name fields that can be switched on.
 */
export const DEFAULT_COUNTERS_CSV = `# Format
# If line starts with a '#' it is considered a comment
# DCGM FIELD, Prometheus metric type, help message

# Clocks
DCGM_FI_DEV_SM_CLOCK,  gauge, SM clock frequency (in MHz).
DCGM_FI_DEV_MEM_CLOCK, gauge, Memory clock frequency (in MHz).

# Temperature
DCGM_FI_DEV_MEMORY_TEMP, gauge, Memory temperature (in C).
DCGM_FI_DEV_GPU_TEMP,    gauge, GPU temperature (in C).

# Power
DCGM_FI_DEV_POWER_USAGE,              gauge, Power draw (in W).
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, counter, Total energy consumption since boot (in mJ).

# PCIE
DCGM_FI_DEV_PCIE_REPLAY_COUNTER, counter, Total number of PCIe retries.

# Utilization (the sample period varies depending on the product)
DCGM_FI_DEV_GPU_UTIL,      gauge, GPU utilization (in %).
DCGM_FI_DEV_MEM_COPY_UTIL, gauge, Memory utilization (in %).
DCGM_FI_DEV_ENC_UTIL,      gauge, Encoder utilization (in %).
DCGM_FI_DEV_DEC_UTIL ,     gauge, Decoder utilization (in %).

# Errors and violations
DCGM_FI_DEV_XID_ERRORS,              gauge,   Value of the last XID error encountered.
# DCGM_FI_DEV_POWER_VIOLATION,       counter, Throttling duration due to power constraints (in ns).
# DCGM_FI_DEV_THERMAL_VIOLATION,     counter, Throttling duration due to thermal constraints (in ns).
# DCGM_FI_DEV_SYNC_BOOST_VIOLATION,  counter, Throttling duration due to sync-boost constraints (in ns).
# DCGM_FI_DEV_BOARD_LIMIT_VIOLATION, counter, Throttling duration due to board limit constraints (in ns).
# DCGM_FI_DEV_LOW_UTIL_VIOLATION,    counter, Throttling duration due to low utilization (in ns).
# DCGM_FI_DEV_RELIABILITY_VIOLATION, counter, Throttling duration due to reliability constraints (in ns).

# Memory usage
DCGM_FI_DEV_FB_FREE, gauge, Framebuffer memory free (in MiB).
DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).
DCGM_FI_DEV_FB_RESERVED, gauge, Framebuffer memory reserved (in MiB).

# ECC
# DCGM_FI_DEV_ECC_SBE_VOL_TOTAL, counter, Total number of single-bit volatile ECC errors.
# DCGM_FI_DEV_ECC_DBE_VOL_TOTAL, counter, Total number of double-bit volatile ECC errors.
# DCGM_FI_DEV_ECC_SBE_AGG_TOTAL, counter, Total number of single-bit persistent ECC errors.
# DCGM_FI_DEV_ECC_DBE_AGG_TOTAL, counter, Total number of double-bit persistent ECC errors.

# NVLink
DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL,            counter, Total number of NVLink bandwidth counters for all lanes.

# VGPU License status
DCGM_FI_DEV_VGPU_LICENSE_STATUS, gauge, vGPU License status

# Remapped rows
DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS, counter, Number of remapped rows for uncorrectable errors
DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS,   counter, Number of remapped rows for correctable errors
DCGM_FI_DEV_ROW_REMAP_FAILURE,           gauge,   Whether remapping of rows has failed

# Static configuration information. These appear as labels on the other metrics
DCGM_FI_DRIVER_VERSION,        label, Driver Version

# Datacenter Profiling (DCP) metrics
DCGM_FI_PROF_GR_ENGINE_ACTIVE,   gauge, Ratio of time the graphics engine is active.
# DCGM_FI_PROF_SM_ACTIVE,          gauge, The ratio of cycles an SM has at least 1 warp assigned.
# DCGM_FI_PROF_SM_OCCUPANCY,       gauge, The ratio of number of warps resident on an SM.
DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, gauge, Ratio of cycles the tensor (HMMA) pipe is active.
DCGM_FI_PROF_DRAM_ACTIVE,        gauge, Ratio of cycles the device memory interface is active sending or receiving data.
# DCGM_FI_PROF_PIPE_FP64_ACTIVE,   gauge, Ratio of cycles the fp64 pipes are active.
# DCGM_FI_PROF_PIPE_FP32_ACTIVE,   gauge, Ratio of cycles the fp32 pipes are active.
# DCGM_FI_PROF_PIPE_FP16_ACTIVE,   gauge, Ratio of cycles the fp16 pipes are active.
DCGM_FI_PROF_PCIE_TX_BYTES,      gauge, The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.
DCGM_FI_PROF_PCIE_RX_BYTES,      gauge, The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.
`;
