/**
 * Leader election on a `coordination.k8s.io/v1` Lease, following client-go's `tools/leaderelection`:
 *
 * - Candidates GET the lease (CREATE it on 404). A lease held by someone else is respected while its record
 *   changed less than `leaseDurationSeconds` ago, measured on the local clock from when this candidate last saw
 *   it change (no cross-host clock comparison). Otherwise the candidate PUTs itself as holder with the
 *   resource version it read, so only one of several racing candidates wins (the others get 409 Conflict).
 * - Taking over increments `leaseTransitions`; renewing keeps `acquireTime`.
 * - The leader renews every `retryPeriodSeconds`; when it cannot renew for `renewDeadlineSeconds` it stops
 *   leading (the `leading` signal aborts and `onStoppedLeading` runs) and becomes a candidate again.
 * - On shutdown the leader releases the lease (empty `holderIdentity`, 1 s duration) so a successor need not
 *   wait for expiry.
 *
 * Like client-go's, this election gives no fencing: a paused leader may briefly overlap with its successor.
 *
 * @module
 */

import { z } from "zod";
import { log } from "../log.ts";
import { sleep } from "./backoff.ts";
import type { KubeClient, KubeObject } from "./client.ts";
import { formatMicroTime } from "./microtime.ts";

const JITTER_FACTOR = 1.2;

/** The Lease spec fields leader election reads and writes. */
export interface LeaseSpec {
  /** Identity of the current holder; empty when released. */
  holderIdentity?: string | null;
  /** How long the holder's claim lasts after `renewTime`. */
  leaseDurationSeconds?: number | null;
  /** MicroTime when the current holder took the lease. */
  acquireTime?: string | null;
  /** MicroTime of the last renewal. */
  renewTime?: string | null;
  /** How many times the lease changed holder. */
  leaseTransitions?: number | null;
}

/** A `coordination.k8s.io/v1` Lease. */
export interface Lease extends KubeObject {
  /** The election record. */
  spec?: LeaseSpec;
}

/** What a candidate remembers about the lease between rounds. */
export interface LeaseObservation {
  /** The election record as last seen, serialised for comparison. */
  record: string;
  /** Holder in that record (`""` when none). */
  holder: string;
  /** Lease duration in that record. */
  durationSeconds: number;
  /** Local time (ms since epoch) when this candidate first saw that record. */
  observedAtMs: number;
}

/** The outcome of one acquire-or-renew round: write `spec` (create or update), or wait for the holder. */
export interface LeaseDecision {
  /** `create` when no lease exists, `update` to claim or renew, `wait` while someone else validly holds it. */
  action: "create" | "update" | "wait";
  /** The spec to write, for `create` and `update`. */
  spec?: LeaseSpec;
  /** The observation to remember for the next round. */
  observation: LeaseObservation;
}

/** Options of {@link runLeaderElection}. */
export interface LeaderElectionOptions {
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease. */
  name: string;
  /** This candidate's unique identity, e.g. the pod name. */
  identity: string;
  /**
   * How long non-leaders wait after the last observed change before taking over.
   *
   * @default {15}
   */
  leaseDurationSeconds?: number;
  /**
   * How long the leader keeps retrying a failed renewal before it stops leading.
   *
   * @default {10}
   */
  renewDeadlineSeconds?: number;
  /**
   * Interval between acquire and renew attempts.
   *
   * @default {2}
   */
  retryPeriodSeconds?: number;
  /**
   * Whether to release the lease when `signal` aborts while leading.
   *
   * @default {true}
   */
  releaseOnCancel?: boolean;
  /** Ends the election; {@link runLeaderElection} resolves once it has stopped (and released). */
  signal: AbortSignal;
  /** Called on becoming leader; `leading` aborts when leadership ends. Not awaited by the election loop. */
  onStartedLeading: (leading: AbortSignal) => void | Promise<void>;
  /** Called after leadership ended (lost or shut down). */
  onStoppedLeading?: () => void;
  /** Called when a different holder is observed (including this candidate). */
  onNewLeader?: (identity: string) => void;
}

function recordOf(spec: LeaseSpec): string {
  return JSON.stringify([
    spec.holderIdentity ?? "",
    spec.leaseDurationSeconds ?? 0,
    spec.acquireTime ?? "",
    spec.renewTime ?? "",
    spec.leaseTransitions ?? 0,
  ]);
}

/**
 * Remembers a lease record as seen at `now`.
 *
 * @param spec The lease spec read or written.
 * @param now The local time of the observation.
 * @param defaultDurationSeconds Duration to assume when the record has none.
 * @returns The observation.
 */
export function observeLease(spec: LeaseSpec, now: Date, defaultDurationSeconds: number): LeaseObservation {
  return {
    record: recordOf(spec),
    holder: spec.holderIdentity ?? "",
    durationSeconds: spec.leaseDurationSeconds || defaultDurationSeconds,
    observedAtMs: now.getTime(),
  };
}

/**
 * Decides one acquire-or-renew round (client-go's `tryAcquireOrRenew`, without the I/O).
 *
 * @param lease The lease as just read, or `undefined` when it does not exist.
 * @param previous The observation from the previous round.
 * @param now The current local time.
 * @param identity This candidate's identity.
 * @param leaseDurationSeconds The lease duration to write.
 * @returns What to do and what to remember.
 */
export function decideLease(
  lease: Lease | undefined,
  previous: LeaseObservation | undefined,
  now: Date,
  identity: string,
  leaseDurationSeconds: number,
): LeaseDecision {
  const nowTime = formatMicroTime(now);
  if (!lease) {
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: nowTime,
      renewTime: nowTime,
      leaseTransitions: 0,
    };
    return { action: "create", spec, observation: observeLease(spec, now, leaseDurationSeconds) };
  }
  const current = lease.spec ?? {};
  const observation = previous?.record === recordOf(current)
    ? previous
    : observeLease(current, now, leaseDurationSeconds);
  const isLeader = observation.holder === identity;
  const stillValid = observation.observedAtMs + observation.durationSeconds * 1000 > now.getTime();
  if (observation.holder !== "" && stillValid && !isLeader) return { action: "wait", observation };
  const transitions = current.leaseTransitions ?? 0;
  const spec = {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: isLeader ? current.acquireTime ?? nowTime : nowTime,
    renewTime: nowTime,
    leaseTransitions: isLeader ? transitions : transitions + 1,
  };
  return { action: "update", spec, observation };
}

const optionsSchema = z.object({
  namespace: z.string().min(1),
  name: z.string().min(1),
  identity: z.string().min(1),
  leaseDurationSeconds: z.number().positive().default(15),
  renewDeadlineSeconds: z.number().positive().default(10),
  retryPeriodSeconds: z.number().positive().default(2),
  releaseOnCancel: z.boolean().default(true),
});

type ElectionConfig = z.infer<typeof optionsSchema>;

function parseOptions(options: LeaderElectionOptions): ElectionConfig {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`Cannot run leader election: ${issue.path.join(".")}: ${issue.message}`);
  }
  const config = parsed.data;
  if (config.leaseDurationSeconds <= config.renewDeadlineSeconds) {
    throw new RangeError(
      `Cannot run leader election: leaseDurationSeconds (${config.leaseDurationSeconds}) must exceed renewDeadlineSeconds (${config.renewDeadlineSeconds})`,
    );
  }
  if (config.renewDeadlineSeconds <= JITTER_FACTOR * config.retryPeriodSeconds) {
    throw new RangeError(
      `Cannot run leader election: renewDeadlineSeconds (${config.renewDeadlineSeconds}) must exceed ${JITTER_FACTOR} × retryPeriodSeconds (${config.retryPeriodSeconds})`,
    );
  }
  return config;
}

/** One candidate's election state and its Lease I/O. */
class Elector {
  #client: KubeClient;
  #config: ElectionConfig;
  #options: LeaderElectionOptions;
  #path: string;
  #lease?: Lease;
  #observation?: LeaseObservation;
  #reportedLeader = "";

  constructor(client: KubeClient, options: LeaderElectionOptions, config: ElectionConfig) {
    this.#client = client;
    this.#options = options;
    this.#config = config;
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${config.namespace}/leases/${config.name}`;
  }

  get isLeader(): boolean {
    return this.#observation?.holder === this.#config.identity;
  }

  #observe(observation: LeaseObservation): void {
    this.#observation = observation;
    if (observation.holder === "" || observation.holder === this.#reportedLeader) return;
    this.#reportedLeader = observation.holder;
    log.info("lease holder changed", { lease: this.#config.name, holder: observation.holder });
    try {
      this.#options.onNewLeader?.(observation.holder);
    } catch (error) {
      log.error("onNewLeader failed", { lease: this.#config.name, error });
    }
  }

  async #write(action: "create" | "update", spec: LeaseSpec, base: Lease | undefined, signal: AbortSignal) {
    const { namespace, name } = this.#config;
    const written = action === "create"
      ? await this.#client.create<Lease>(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace },
        spec,
      }, { signal })
      : await this.#client.replace<Lease>(this.#path, { ...base, spec }, { signal });
    this.#lease = written;
    this.#observe(observeLease(written.spec ?? spec, new Date(), this.#config.leaseDurationSeconds));
  }

  /** One round of client-go's tryAcquireOrRenew; `true` when this candidate holds the lease afterwards. */
  async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    try {
      if (this.isLeader && this.#lease && this.#observation) {
        const fast = decideLease(
          this.#lease,
          this.#observation,
          new Date(),
          this.#config.identity,
          this.#config.leaseDurationSeconds,
        );
        if (fast.action === "update" && fast.spec) {
          try {
            await this.#write("update", fast.spec, this.#lease, signal);
            return true;
          } catch (error) {
            log.debug("lease fast renew failed, re-reading", { lease: this.#config.name, error });
          }
        }
      }
      const lease = await this.#client.get<Lease>(this.#path, { signal });
      const decision = decideLease(
        lease,
        this.#observation,
        new Date(),
        this.#config.identity,
        this.#config.leaseDurationSeconds,
      );
      this.#lease = lease;
      this.#observe(decision.observation);
      if (decision.action === "wait" || !decision.spec) return false;
      await this.#write(decision.action, decision.spec, lease, signal);
      return true;
    } catch (error) {
      log.debug("lease acquire or renew failed", { lease: this.#config.name, error });
      return false;
    }
  }

  /** Gives the lease up: empty holder, 1 s duration, so candidates can take over at their next retry. */
  async release(): Promise<void> {
    if (!this.isLeader || !this.#lease) return;
    const now = formatMicroTime(new Date());
    const spec: LeaseSpec = {
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: this.#lease.spec?.leaseTransitions ?? 0,
    };
    try {
      await this.#write(
        "update",
        spec,
        this.#lease,
        AbortSignal.timeout(this.#config.renewDeadlineSeconds * 1000),
      );
      log.info("lease released", { lease: this.#config.name, identity: this.#config.identity });
    } catch (error) {
      log.warn("lease release failed", { lease: this.#config.name, error });
    }
  }
}

/** Retries acquiring every retryPeriod (with jitter) until it succeeds; `false` when `signal` aborted first. */
async function acquire(elector: Elector, config: ElectionConfig, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    if (await elector.tryAcquireOrRenew(signal)) return true;
    await sleep(config.retryPeriodSeconds * 1000 * (1 + Math.random() * JITTER_FACTOR), signal);
  }
  return false;
}

/** Renews every retryPeriod until a renewal fails for renewDeadline (`lost`) or `signal` aborts. */
async function renew(
  elector: Elector,
  config: ElectionConfig,
  signal: AbortSignal,
): Promise<"lost" | "aborted"> {
  while (!signal.aborted) {
    const cycle = AbortSignal.any([signal, AbortSignal.timeout(config.renewDeadlineSeconds * 1000)]);
    let renewed = false;
    while (!cycle.aborted && !renewed) {
      renewed = await elector.tryAcquireOrRenew(cycle);
      if (!renewed) await sleep(config.retryPeriodSeconds * 1000, cycle);
    }
    if (!renewed) return signal.aborted ? "aborted" : "lost";
    await sleep(config.retryPeriodSeconds * 1000, signal);
  }
  return "aborted";
}

/**
 * Campaigns for the lease until `options.signal` aborts, calling `onStartedLeading` each time this candidate
 * becomes leader. On abort while leading it waits (up to renewDeadline) for the `onStartedLeading` task to
 * settle, then releases the lease unless `releaseOnCancel` is false.
 *
 * @param client The API client.
 * @param options Lease name, identity, timings and callbacks.
 * @returns Resolves when the election has stopped.
 */
export async function runLeaderElection(client: KubeClient, options: LeaderElectionOptions): Promise<void> {
  const config = parseOptions(options);
  const elector = new Elector(client, options, config);
  const signal = options.signal;
  while (await acquire(elector, config, signal)) {
    log.info("started leading", { lease: config.name, identity: config.identity });
    const leading = new AbortController();
    const task = Promise.resolve()
      .then(() => options.onStartedLeading(leading.signal))
      .catch((error) => log.error("onStartedLeading failed", { lease: config.name, error }));
    const end = await renew(elector, config, signal);
    leading.abort(new Error(end === "lost" ? "Leadership lost" : "Leader election stopped"));
    if (end === "lost") log.warn("stopped leading: lease not renewed in time", { lease: config.name });
    await Promise.race([task, sleep(config.renewDeadlineSeconds * 1000)]);
    if (signal.aborted && config.releaseOnCancel) await elector.release();
    try {
      options.onStoppedLeading?.();
    } catch (error) {
      log.error("onStoppedLeading failed", { lease: config.name, error });
    }
  }
}
