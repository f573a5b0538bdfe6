/**
 * Reads server-side-apply ownership from an object's `metadata.managedFields`, so a role can tell the
 * labels or status keys it wrote itself from those a person or another tool wrote.
 *
 * @module
 */

/** One entry of `metadata.managedFields`. */
export interface ManagedFieldsEntry {
  /** Field manager name. */
  manager?: string;
  /** `Apply` or `Update`. */
  operation?: string;
  /** Subresource the write went to, e.g. `status`; absent for the main resource. */
  subresource?: string;
  /** The owned field set in FieldsV1 form (`{"f:metadata":{"f:labels":{"f:key":{}}}}`). */
  fieldsV1?: Record<string, unknown>;
}

/** Options of {@link ownedMapKeys}. */
export interface OwnedKeysOptions {
  /** Subresource of the entry; absent means the main resource. */
  subresource?: string;
}

/**
 * The keys of a map field (e.g. `["metadata", "labels"]` or `["status", "capacity"]`) that the given
 * field manager owns through server-side apply.
 */
export function ownedMapKeys(
  obj: { metadata?: { managedFields?: unknown[] } },
  manager: string,
  path: string[],
  options: OwnedKeysOptions = {},
): Set<string> {
  const keys = new Set<string>();
  for (const raw of obj.metadata?.managedFields ?? []) {
    const entry = raw as ManagedFieldsEntry;
    if (entry.manager !== manager || entry.operation !== "Apply") continue;
    if ((entry.subresource ?? "") !== (options.subresource ?? "")) continue;
    let node: unknown = entry.fieldsV1;
    for (const part of path) node = (node as Record<string, unknown> | undefined)?.[`f:${part}`];
    if (!node || typeof node !== "object") continue;
    for (const key of Object.keys(node)) {
      if (key.startsWith("f:")) keys.add(key.slice(2));
    }
  }
  return keys;
}
