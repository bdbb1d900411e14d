// Package podvms finds and deletes the pod VMs a stack's CAA left behind,
// so the peer-pod subnet can be deleted. It is the safety net for what
// dependency order cannot prevent: CAA crashed, or a pod was deleted while
// CAA was down, and its VM (with its NIC in the subnet) stayed.
package podvms

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// NamePrefix starts the name of every VM CAA creates (podvm-<pod>-<sandbox>).
const NamePrefix = "podvm-"

// VM is what the sweep needs to know of a virtual machine.
type VM struct {
	ID     string
	Name   string
	Tags   map[string]string
	NICIDs []string
}

// NIC is what the sweep needs to know of a network interface.
type NIC struct {
	ID        string
	Name      string
	SubnetIDs []string
	// VMID is the VM the NIC is attached to, if any.
	VMID string
}

// Cloud is the slice of the Azure API the sweep uses; AzureCloud is the
// real one and tests use fakes.
type Cloud interface {
	ListVMs(ctx context.Context, resourceGroup string) ([]VM, error)
	ListNICs(ctx context.Context, resourceGroup string) ([]NIC, error)
	// DeleteVM and DeleteNIC return once Azure has finished the delete.
	DeleteVM(ctx context.Context, id string) error
	DeleteNIC(ctx context.Context, id string) error
}

// Sweep deletes one stack's leftover pod VMs and their NICs.
type Sweep struct {
	Cloud Cloud
	// ResourceGroup is where CAA creates pod VMs (AZURE_RESOURCE_GROUP).
	ResourceGroup string
	// SubnetID is the peer-pod subnet that must end up free.
	SubnetID string
	// TagKey and TagValue mark this stack's pod VMs (CAA's TAGS).
	TagKey, TagValue string
	// Backoff is the wait between attempts; the last value repeats until
	// Timeout. Azure keeps a failed VM's NIC reserved for about 180 s.
	Backoff []time.Duration
	Timeout time.Duration
	// Sleep waits; tests replace it to run instantly.
	Sleep func(context.Context, time.Duration) error
}

// Report says what a sweep did.
type Report struct {
	DeletedVMs  []string
	DeletedNICs []string
	// Spared are pod-VM-looking VMs that are not provably this stack's.
	Spared []string
	// Attempts counts the passes made over the resource group.
	Attempts int
}

// String is a one-line summary for the deploy log.
func (r Report) String() string {
	if len(r.DeletedVMs)+len(r.DeletedNICs) == 0 {
		return "no leftover pod VMs or NICs found"
	}
	return fmt.Sprintf("deleted %d leftover pod VM(s) %v and %d NIC(s) %v",
		len(r.DeletedVMs), r.DeletedVMs, len(r.DeletedNICs), r.DeletedNICs)
}

// DefaultBackoff waits longer each time, up to the 180 s NIC reservation.
var DefaultBackoff = []time.Duration{5 * time.Second, 15 * time.Second, 30 * time.Second, 60 * time.Second}

// Run deletes this stack's pod VMs, then the NICs left in the peer-pod
// subnet that belong to them, retrying with back-off until the subnet has
// no NIC of ours or Timeout passes. It never deletes a VM that carries
// neither this stack's tag nor the podvm- prefix with a NIC in the subnet.
func (s *Sweep) Run(ctx context.Context) (Report, error) {
	var report Report
	if s.Cloud == nil || s.ResourceGroup == "" || s.SubnetID == "" || s.TagKey == "" || s.TagValue == "" {
		return report, errors.New("pod VM sweep: Cloud, ResourceGroup, SubnetID and the stack tag are required")
	}
	sleep := s.Sleep
	if sleep == nil {
		sleep = sleepContext
	}
	backoff := s.Backoff
	if len(backoff) == 0 {
		backoff = DefaultBackoff
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 15 * time.Minute
	}
	var waited time.Duration
	deletedVMs := map[string]bool{}
	deletedNICs := map[string]bool{}
	ours := map[string]bool{}
	var lastErr error
	for attempt := 0; ; attempt++ {
		report.Attempts = attempt + 1
		remaining, spared, err := s.pass(ctx, ours, deletedVMs, deletedNICs)
		report.Spared = spared
		if err == nil && remaining == 0 {
			report.DeletedVMs, report.DeletedNICs = sortedKeys(deletedVMs), sortedKeys(deletedNICs)
			return report, nil
		}
		if err != nil {
			lastErr = err
		} else {
			lastErr = fmt.Errorf("%d pod VM NIC(s) still in subnet %s", remaining, s.SubnetID)
		}
		wait := backoff[min(attempt, len(backoff)-1)]
		if waited+wait > timeout {
			report.DeletedVMs, report.DeletedNICs = sortedKeys(deletedVMs), sortedKeys(deletedNICs)
			return report, fmt.Errorf("pod VM sweep gave up after %d attempts over %v: %w", report.Attempts, waited, lastErr)
		}
		if err := sleep(ctx, wait); err != nil {
			report.DeletedVMs, report.DeletedNICs = sortedKeys(deletedVMs), sortedKeys(deletedNICs)
			return report, err
		}
		waited += wait
	}
}

// pass makes one attempt and returns how many of our NICs are still in the
// subnet. ours remembers, across passes, the ids of the VMs found to be
// this stack's, so their NICs are recognised after the VMs are gone.
func (s *Sweep) pass(ctx context.Context, ours, deletedVMs, deletedNICs map[string]bool) (remaining int, spared []string, err error) {
	nics, err := s.Cloud.ListNICs(ctx, s.ResourceGroup)
	if err != nil {
		return 0, nil, fmt.Errorf("listing NICs in %s: %w", s.ResourceGroup, err)
	}
	inSubnet := map[string]NIC{}
	for _, n := range nics {
		for _, sub := range n.SubnetIDs {
			if strings.EqualFold(sub, s.SubnetID) {
				inSubnet[strings.ToLower(n.ID)] = n
			}
		}
	}
	vms, err := s.Cloud.ListVMs(ctx, s.ResourceGroup)
	if err != nil {
		return 0, nil, fmt.Errorf("listing VMs in %s: %w", s.ResourceGroup, err)
	}
	var errs []error
	for _, vm := range vms {
		tagged := vm.Tags[s.TagKey] == s.TagValue
		named := strings.HasPrefix(vm.Name, NamePrefix)
		inOurSubnet := false
		for _, id := range vm.NICIDs {
			if _, ok := inSubnet[strings.ToLower(id)]; ok {
				inOurSubnet = true
			}
		}
		switch {
		case tagged || (named && inOurSubnet):
			ours[strings.ToLower(vm.ID)] = true
			if err := s.Cloud.DeleteVM(ctx, vm.ID); err != nil {
				errs = append(errs, fmt.Errorf("deleting VM %s: %w", vm.Name, err))
				continue
			}
			deletedVMs[vm.Name] = true
		case named:
			spared = append(spared, vm.Name)
		}
	}
	for _, key := range sortedKeys(keysOf(inSubnet)) {
		n := inSubnet[key]
		// A NIC is ours when a VM of ours held it, or when it was left
		// detached with CAA's naming; anything else in the subnet is the
		// user's and is reported, not touched.
		attachedToOurs := n.VMID != "" && ours[strings.ToLower(n.VMID)]
		orphanedPodVMNIC := n.VMID == "" && strings.HasPrefix(n.Name, NamePrefix)
		if !attachedToOurs && !orphanedPodVMNIC {
			errs = append(errs, fmt.Errorf("NIC %s in the peer-pod subnet is not this stack's; remove it to free the subnet", n.Name))
			continue
		}
		if err := s.Cloud.DeleteNIC(ctx, n.ID); err != nil {
			remaining++
			errs = append(errs, fmt.Errorf("deleting NIC %s: %w", n.Name, err))
			continue
		}
		deletedNICs[n.Name] = true
	}
	return remaining, spared, errors.Join(errs...)
}

func keysOf(m map[string]NIC) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
