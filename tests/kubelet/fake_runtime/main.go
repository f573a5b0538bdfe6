// Command fake_runtime is the in-memory container runtime (CRI) of fakegpu's real-kubelet test tier.
//
// It serves k8s.io/cri-client's fake runtime and image service on a unix socket, with what a kubelet
// needs beyond the upstream defaults (see ../../../../shared/reference/real-kubelet.md):
//   - runtime status RuntimeReady + NetworkReady, cgroup driver cgroupfs;
//   - a non-zero image size and an image filesystem on a directory of the root filesystem;
//   - each container's LogPath set (sandbox log directory + container log path) and the empty file
//     created, as a real runtime does: without it the kubelet's log cleanup globs its working directory;
//   - a periodic reset of the fake's unbounded call logs.
//
// Every CreateContainer request is appended as one JSON line to --record, so tests can read what a
// device plugin's Allocate or a DRA driver's CDI devices injected into the container.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	kubeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-client/pkg/fake"
)

// createRecord is what a test reads about one CreateContainer request.
type createRecord struct {
	Namespace  string            `json:"namespace"`
	Pod        string            `json:"pod"`
	PodUID     string            `json:"podUid"`
	Container  string            `json:"container"`
	Envs       map[string]string `json:"envs"`
	Mounts     []mountRecord     `json:"mounts"`
	Devices    []string          `json:"devices"`
	CDIDevices []string          `json:"cdiDevices"`
}

type mountRecord struct {
	ContainerPath string `json:"containerPath"`
	HostPath      string `json:"hostPath"`
	ReadOnly      bool   `json:"readOnly"`
}

type runtime struct {
	*fake.RemoteRuntime
	recordMu   sync.Mutex
	recordPath string
}

// CreateContainer creates the fake container, sets its LogPath like a real runtime and records the request.
func (r *runtime) CreateContainer(ctx context.Context, req *kubeapi.CreateContainerRequest) (*kubeapi.CreateContainerResponse, error) {
	resp, err := r.RemoteRuntime.CreateContainer(ctx, req)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(req.GetSandboxConfig().GetLogDirectory(), req.GetConfig().GetLogPath())
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	if f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY, 0o640); err == nil {
		f.Close()
	} else {
		return nil, err
	}
	svc := r.RuntimeService
	svc.Lock()
	if c, ok := svc.Containers[resp.ContainerId]; ok {
		c.LogPath = logPath
	}
	svc.Unlock()
	r.record(req)
	return resp, nil
}

func (r *runtime) record(req *kubeapi.CreateContainerRequest) {
	cfg, meta := req.GetConfig(), req.GetSandboxConfig().GetMetadata()
	rec := createRecord{
		Namespace: meta.GetNamespace(), Pod: meta.GetName(), PodUID: meta.GetUid(),
		Container: cfg.GetMetadata().GetName(), Envs: map[string]string{},
		Mounts: []mountRecord{}, Devices: []string{}, CDIDevices: []string{},
	}
	for _, e := range cfg.GetEnvs() {
		rec.Envs[e.GetKey()] = e.GetValue()
	}
	for _, m := range cfg.GetMounts() {
		rec.Mounts = append(rec.Mounts, mountRecord{m.GetContainerPath(), m.GetHostPath(), m.GetReadonly()})
	}
	for _, d := range cfg.GetDevices() {
		rec.Devices = append(rec.Devices, d.GetHostPath())
	}
	for _, d := range cfg.GetCDIDevices() {
		rec.CDIDevices = append(rec.CDIDevices, d.GetName())
	}
	line, _ := json.Marshal(rec)
	r.recordMu.Lock()
	defer r.recordMu.Unlock()
	f, err := os.OpenFile(r.recordPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Printf("record: %v", err)
		return
	}
	defer f.Close()
	f.Write(append(line, '\n'))
}

// resetCallLogs empties the fake services' call logs, which otherwise grow without bound.
func (r *runtime) resetCallLogs() {
	r.RuntimeService.Lock()
	r.RuntimeService.Called = nil
	r.RuntimeService.Unlock()
	r.ImageService.Lock()
	r.ImageService.Called = nil
	r.ImageService.Unlock()
}

func main() {
	socket := flag.String("listen", "", "unix socket path to serve the CRI on")
	record := flag.String("record", "", "file that receives one JSON line per CreateContainer request")
	imageFs := flag.String("image-fs", "", "directory on the root filesystem reported as the image filesystem")
	flag.Parse()
	if *socket == "" || *record == "" || *imageFs == "" {
		log.Fatal("--listen, --record and --image-fs are required")
	}
	r := &runtime{RemoteRuntime: fake.NewFakeRemoteRuntime(), recordPath: *record}
	r.RuntimeService.FakeStatus = &kubeapi.RuntimeStatus{Conditions: []*kubeapi.RuntimeCondition{
		{Type: kubeapi.RuntimeReady, Status: true}, {Type: kubeapi.NetworkReady, Status: true},
	}}
	r.RuntimeService.FakeLinuxConfiguration = &kubeapi.LinuxRuntimeConfiguration{CgroupDriver: kubeapi.CgroupDriver_CGROUPFS}
	r.ImageService.SetFakeImageSize(64 << 20)
	r.ImageService.SetFakeFilesystemUsage([]*kubeapi.FilesystemUsage{{
		Timestamp:  time.Now().UnixNano(),
		FsId:       &kubeapi.FilesystemIdentifier{Mountpoint: *imageFs},
		UsedBytes:  &kubeapi.UInt64Value{Value: 64 << 20},
		InodesUsed: &kubeapi.UInt64Value{Value: 16},
	}})

	os.Remove(*socket)
	lis, err := net.Listen("unix", *socket)
	if err != nil {
		log.Fatalf("listen %s: %v", *socket, err)
	}
	server := grpc.NewServer()
	kubeapi.RegisterRuntimeServiceServer(server, r)
	kubeapi.RegisterImageServiceServer(server, r.RemoteRuntime)
	go func() {
		for range time.Tick(30 * time.Second) {
			r.resetCallLogs()
		}
	}()
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		server.Stop()
	}()
	log.Printf("fake runtime serving on %s", *socket)
	if err := server.Serve(lis); err != nil {
		log.Fatal(err)
	}
	os.Remove(*socket)
}
