/**
 * Where the kubelet's device-plugin and PodResources sockets live. Kept apart from the gRPC modules that use
 * them, so the KWOK-scoped device plugin reads its flag defaults without loading gRPC (about 14 MiB of RSS).
 *
 * @module
 */

/** The kubelet's device-plugin directory. */
export const DEVICE_PLUGIN_DIR = "/var/lib/kubelet/device-plugins";

/** The kubelet's registration socket in {@link DEVICE_PLUGIN_DIR}. */
export const KUBELET_SOCKET = "kubelet.sock";

/** The kubelet's PodResources socket. */
export const POD_RESOURCES_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock";
