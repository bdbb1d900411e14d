//go:build engine

package engine

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// cluster is a Kubernetes control plane on loopback: etcd, kube-apiserver
// (RBAC on), kube-controller-manager, kube-scheduler, and kwok, which plays
// the kubelet of one fake node so Deployments and DaemonSets become ready.
type cluster struct {
	t   *testing.T
	bin string
	dir string

	apiPort       int
	apiServer     *process
	apiServerArgs []string
	// controllers are the processes that talk to the API server.
	controllers []*process
	// Kubeconfigs: the cluster's admin, and a user bound to the built-in
	// `view` role (what AKS's "RBAC Reader" grants: no secrets, no RBAC).
	AdminKubeconfig, ReaderKubeconfig string
	admin, reader                     *kube
}

// The fake node: labelled as AKS labels the guide's worker pool, so the
// operator's and CAA's node selectors match it.
const nodeName = "kwok-node-0"

func startCluster(t *testing.T, bin string) *cluster {
	t.Helper()
	c := &cluster{t: t, bin: bin, dir: t.TempDir()}
	pki := newPKI(t, c.dir)

	etcdClient, etcdPeer := freePort(t), freePort(t)
	etcd := c.start("etcd", filepath.Join(bin, "etcd"),
		"--name", "default",
		"--data-dir", filepath.Join(c.dir, "etcd"),
		"--listen-client-urls", url("http", etcdClient), "--advertise-client-urls", url("http", etcdClient),
		"--listen-peer-urls", url("http", etcdPeer), "--initial-advertise-peer-urls", url("http", etcdPeer),
		"--initial-cluster", "default="+url("http", etcdPeer),
		// A test cluster: losing it on a crash is fine, waiting on fsync is not.
		"--unsafe-no-fsync")
	waitFor(t, etcd, 60*time.Second, func() error {
		resp, err := http.Get(url("http", etcdClient) + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("etcd /health: %s", resp.Status)
		}
		return nil
	})

	c.apiPort = freePort(t)
	server := "https://127.0.0.1:" + strconv.Itoa(c.apiPort)
	c.AdminKubeconfig = pki.kubeconfig(t, "admin", server, "admin", []string{"system:masters"})
	c.ReaderKubeconfig = pki.kubeconfig(t, "reader", server, "ci-preview", nil)
	c.admin = pki.client(t, server, "admin")
	c.reader = pki.client(t, server, "reader")
	c.apiServerArgs = []string{
		"--etcd-servers", url("http", etcdClient),
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(c.apiPort),
		"--tls-cert-file", pki.file("apiserver.crt"), "--tls-private-key-file", pki.file("apiserver.key"),
		"--client-ca-file", pki.file("ca.crt"),
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", pki.file("sa.pub"),
		"--service-account-signing-key-file", pki.file("sa.key"),
		"--service-cluster-ip-range", "10.96.0.0/24",
		// On loopback there is no address to publish as the kubernetes
		// Service's endpoint.
		"--endpoint-reconciler-type", "none",
		"--allow-privileged",
	}
	c.StartAPIServer()

	cm := c.start("kube-controller-manager", filepath.Join(bin, "kube-controller-manager"),
		"--kubeconfig", c.AdminKubeconfig,
		"--leader-elect=false", "--secure-port", "0",
		"--service-account-private-key-file", pki.file("sa.key"),
		"--root-ca-file", pki.file("ca.crt"),
		"--use-service-account-credentials=false",
		// kwok reports the node's heartbeats, but a test that stops the API
		// server (refresh) must not come back to an evicted node.
		"--controllers", "*,-node-lifecycle-controller")
	scheduler := c.start("kube-scheduler", filepath.Join(bin, "kube-scheduler"),
		"--kubeconfig", c.AdminKubeconfig, "--leader-elect=false", "--secure-port", "0")

	kwokArgs := []string{"--kubeconfig", c.AdminKubeconfig,
		"--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake"}
	stages, err := filepath.Glob(filepath.Join(bin, "kwok-stages", "*.yaml"))
	if err != nil || len(stages) == 0 {
		t.Fatalf("no kwok stages in %s/kwok-stages (run tools/engine/build.sh): %v", bin, err)
	}
	for _, s := range stages {
		kwokArgs = append(kwokArgs, "--config", s)
	}
	c.controllers = []*process{cm, scheduler, c.start("kwok", filepath.Join(bin, "kwok"), kwokArgs...)}

	c.admin.create(t, "/api/v1/nodes", map[string]any{
		"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{
			"name":        nodeName,
			"annotations": map[string]any{"kwok.x-k8s.io/node": "fake"},
			"labels": map[string]any{
				"node.kubernetes.io/worker": "", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				"kubernetes.io/hostname": nodeName, "type": "kwok",
			},
		},
	})
	c.admin.create(t, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": "ci-preview-view"},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "ci-preview"}},
	})
	c.waitNodeReady()
	return c
}

// StartAPIServer starts kube-apiserver and waits until it is ready; the
// refresh scenario stops and starts it again with the same arguments.
func (c *cluster) StartAPIServer() {
	c.t.Helper()
	c.apiServer = c.start("kube-apiserver", filepath.Join(c.bin, "kube-apiserver"), c.apiServerArgs...)
	waitFor(c.t, c.apiServer, 120*time.Second, func() error {
		code, body, err := c.admin.do(http.MethodGet, "/readyz", nil, "")
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("/readyz %d: %s", code, body)
		}
		return nil
	})
	c.restartExited()
}

// restartExited starts again the controllers that gave up while the API
// server was away (a stopped kube-controller-manager would leave a
// foreground delete waiting forever).
func (c *cluster) restartExited() {
	c.t.Helper()
	for i, p := range c.controllers {
		if p.exited() {
			c.t.Logf("%s exited while the API server was stopped; starting it again", p.name)
			c.controllers[i] = c.start(p.name, p.cmd.Path, p.cmd.Args[1:]...)
		}
	}
}

// StopAPIServer makes the cluster unreachable, as an expired network path
// or a stopped AKS control plane does.
func (c *cluster) StopAPIServer() {
	c.t.Helper()
	c.apiServer.stop()
}

func (c *cluster) waitNodeReady() {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		node := c.admin.get(c.t, "/api/v1/nodes/"+nodeName)
		for _, cond := range list(node, "status", "conditions") {
			m, _ := cond.(map[string]any)
			if m["type"] == "Ready" && m["status"] == "True" {
				// The API server taints a new node not-ready; the node
				// lifecycle controller, which would lift it, is off (see
				// kube-controller-manager above), so the test lifts it.
				c.admin.mergePatch(c.t, "/api/v1/nodes/"+nodeName, map[string]any{"spec": map[string]any{"taints": nil}})
				return
			}
		}
		time.Sleep(time.Second)
	}
	c.t.Fatalf("node %s not Ready after 60s: kwok (%s) did not take it", nodeName, filepath.Join(c.dir, "kwok.log"))
}

// process is one control-plane binary, stopped when the test ends.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func (c *cluster) start(name, path string, args ...string) *process {
	c.t.Helper()
	logPath := filepath.Join(c.dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = c.dir
	// Its own process group: stopping it stops anything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		c.t.Fatalf("starting %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	c.t.Cleanup(p.stop)
	return p
}

// stop asks the process to end and kills it after 10 seconds.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitFor polls ready until it succeeds, failing with the process's log
// tail when it exits or the time runs out.
func waitFor(t *testing.T, p *process, limit time.Duration, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		if p.exited() {
			t.Fatalf("%s exited while starting:\n%s", p.name, tail(p.log))
		}
		if err = ready(); err == nil {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s not ready after %s: %v\n%s", p.name, limit, err, tail(p.log))
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func url(scheme string, port int) string { return scheme + "://127.0.0.1:" + strconv.Itoa(port) }

// pki is the cluster's certificate authority and service-account key, all
// generated for this test run.
type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
}

func newPKI(t *testing.T, dir string) *pki {
	t.Helper()
	p := &pki{dir: filepath.Join(dir, "pki")}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p.caKey = newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "caa-azure engine test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.caCert, _ = x509.ParseCertificate(der)
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	p.write(t, "ca.crt", p.caPEM)
	p.issue(t, "apiserver", "kube-apiserver", nil, true)

	sa := newKey(t)
	p.write(t, "sa.key", keyPEM(t, sa))
	pub, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, "sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyPEM(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func (p *pki) file(name string) string { return filepath.Join(p.dir, name) }

func (p *pki) write(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p.file(name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue writes name.crt and name.key: a serving certificate for loopback,
// or a client certificate for user cn in groups.
func (p *pki) issue(t *testing.T, name, cn string, groups []string, server bool) {
	t.Helper()
	key := newKey(t)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: groups},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 96, 0, 1)}
		tmpl.DNSNames = []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, name+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	p.write(t, name+".key", keyPEM(t, key))
}

// kubeconfig issues a client certificate and writes a kubeconfig with the
// credential inline, as AKS's user credentials are.
func (p *pki) kubeconfig(t *testing.T, name, server, user string, groups []string) string {
	t.Helper()
	p.issue(t, name, user, groups, false)
	crt, _ := os.ReadFile(p.file(name + ".crt"))
	key, _ := os.ReadFile(p.file(name + ".key"))
	b64 := base64.StdEncoding.EncodeToString
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: engine-test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: engine-test
  context:
    cluster: engine-test
    user: %s
current-context: engine-test
`, server, b64(p.caPEM), user, b64(crt), b64(key), user)
	path := p.file(name + ".kubeconfig")
	p.write(t, name+".kubeconfig", []byte(cfg))
	return path
}

// client is a REST client for the user whose certificate is name.crt.
func (p *pki) client(t *testing.T, server, name string) *kube {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(p.file(name+".crt"), p.file(name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.caCert)
	return &kube{server: server, http: &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}},
	}}
}

// kube is the few REST calls the test makes to the API server; plain HTTP
// keeps client-go out of the product's module graph.
type kube struct {
	server string
	http   *http.Client
}

func (k *kube) do(method, path string, body any, contentType string) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, k.server+path, r)
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// get returns the object at path, or nil when there is none.
func (k *kube) get(t *testing.T, path string) map[string]any {
	t.Helper()
	code, b, err := k.do(http.MethodGet, path, nil, "")
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if code == http.StatusNotFound {
		return nil
	}
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return obj
}

func (k *kube) create(t *testing.T, path string, obj map[string]any) {
	t.Helper()
	code, b, err := k.do(http.MethodPost, path, obj, "application/json")
	if err != nil || (code != http.StatusCreated && code != http.StatusConflict) {
		t.Fatalf("POST %s: %d %s %v", path, code, b, err)
	}
}

func (k *kube) mergePatch(t *testing.T, path string, patch map[string]any) {
	t.Helper()
	code, b, err := k.do(http.MethodPatch, path, patch, "application/merge-patch+json")
	if err != nil || code != http.StatusOK {
		t.Fatalf("PATCH %s: %d %s %v", path, code, b, err)
	}
}

// field walks nested maps; missing keys give nil.
func field(obj map[string]any, path ...string) any {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func str(obj map[string]any, path ...string) string {
	s, _ := field(obj, path...).(string)
	return s
}

func list(obj map[string]any, path ...string) []any {
	l, _ := field(obj, path...).([]any)
	return l
}
