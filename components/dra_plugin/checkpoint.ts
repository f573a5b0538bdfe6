/**
 * dra-plugin's record of the claims it prepared on its node, kept in a JSON file beside its DRA socket so a
 * restarted plugin still knows them: preparing again returns the same devices, and unpreparing removes their CDI
 * specs. A file that is not a valid checkpoint is logged once and treated as empty.
 *
 * @module
 */
import { z } from "zod";
import { log } from "../core/log.ts";

const preparedSchema = z.object({
  namespace: z.string(),
  name: z.string(),
  devices: z.array(z.object({
    request_names: z.array(z.string()),
    pool_name: z.string(),
    device_name: z.string(),
    cdi_device_ids: z.array(z.string()),
  })),
});

const checkpointSchema = z.object({ claims: z.record(z.string(), preparedSchema) });

/** A prepared claim: its identity and the devices returned to the kubelet. */
export type PreparedClaim = z.infer<typeof preparedSchema>;

/** The prepared claims by claim UID, stored in `file`. */
export class Checkpoint {
  #claims = new Map<string, PreparedClaim>();

  private constructor(readonly file: string) {}

  /** Loads `file` (absent: no claims). */
  static async load(file: string): Promise<Checkpoint> {
    const checkpoint = new Checkpoint(file);
    const text = await Deno.readTextFile(file).catch(() => undefined);
    if (text === undefined) return checkpoint;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = checkpointSchema.safeParse(json);
    if (parsed.success) checkpoint.#claims = new Map(Object.entries(parsed.data.claims));
    else {
      const field = parsed.error.issues[0]?.path.join(".") || "file";
      log.warn("dra-plugin checkpoint is invalid; starting without prepared claims", { file, field });
    }
    return checkpoint;
  }

  /** A prepared claim by UID. */
  get(uid: string): PreparedClaim | undefined {
    return this.#claims.get(uid);
  }

  /** Records a prepared claim and saves the file. */
  async set(uid: string, claim: PreparedClaim): Promise<void> {
    this.#claims.set(uid, claim);
    await this.#save();
  }

  /** Forgets a claim and saves the file. */
  async delete(uid: string): Promise<void> {
    if (this.#claims.delete(uid)) await this.#save();
  }

  async #save(): Promise<void> {
    const temp = `${this.file}.tmp`;
    await Deno.writeTextFile(temp, JSON.stringify({ claims: Object.fromEntries(this.#claims) }));
    await Deno.rename(temp, this.file);
  }
}
