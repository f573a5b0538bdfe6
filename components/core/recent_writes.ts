/**
 * What a controller wrote and its watch has not shown yet. Right after a write the watch cache still holds
 * the older object, and a reconcile in that window (another event for the same node) would write the same
 * thing again; remembering the write until the watch shows an object at least that new avoids the re-write.
 *
 * @module
 */

/**
 * Resource versions are etcd revisions: decimal integers, compared as such. No object seen yet counts as
 * older (the watch has not delivered a created object yet).
 */
function isOlder(observed: string | undefined, written: string): boolean {
  if (observed === undefined) return true;
  if (!/^\d+$/.test(observed) || !/^\d+$/.test(written)) return false;
  return BigInt(observed) < BigInt(written);
}

/** The last write per key (a node name), until the watch catches up with it. */
export class RecentWrites<V> {
  #writes = new Map<string, { value: V; resourceVersion: string }>();

  /** Records that `value` was written for `key` and the server answered with `resourceVersion`. */
  record(key: string, value: V, resourceVersion: string | undefined): void {
    if (resourceVersion) this.#writes.set(key, { value, resourceVersion });
  }

  /**
   * The value written for `key` while the watched object (at `observedVersion`) is older than that write;
   * undefined once the watch has caught up (the entry is then dropped) or when nothing was written.
   */
  pending(key: string, observedVersion: string | undefined): V | undefined {
    const write = this.#writes.get(key);
    if (!write) return undefined;
    if (isOlder(observedVersion, write.resourceVersion)) return write.value;
    this.#writes.delete(key);
    return undefined;
  }

  /** Forgets the write for `key` (the object was deleted). */
  forget(key: string): void {
    this.#writes.delete(key);
  }
}
