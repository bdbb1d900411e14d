package podvms

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	rg     = "caa-rg-x"
	subnet = "/subscriptions/s/resourceGroups/caa-rg-x/providers/Microsoft.Network/virtualNetworks/v/subnets/caa-peerpods-snp"
	other  = "/subscriptions/s/resourceGroups/caa-rg-x/providers/Microsoft.Network/virtualNetworks/v/subnets/nodes"
)

// fakeCloud is a resource group with VMs and NICs. Deleting a VM also
// deletes its NICs (CAA creates them with deleteOption Delete); a reserved
// NIC refuses deletion for a number of attempts; errs injects API errors.
type fakeCloud struct {
	vms       map[string]VM
	nics      map[string]NIC
	reserved  map[string]int
	listFails int
	deleted   []string
}

func vmID(name string) string {
	return "/subscriptions/s/resourceGroups/" + rg + "/providers/Microsoft.Compute/virtualMachines/" + name
}
func nicID(name string) string {
	return "/subscriptions/s/resourceGroups/" + rg + "/providers/Microsoft.Network/networkInterfaces/" + name
}

func newFake() *fakeCloud {
	return &fakeCloud{vms: map[string]VM{}, nics: map[string]NIC{}, reserved: map[string]int{}}
}

func (f *fakeCloud) addVM(name string, tags map[string]string, subnetID string) {
	nic := NIC{ID: nicID(name + "-net"), Name: name + "-net", SubnetIDs: []string{subnetID}, VMID: vmID(name)}
	f.nics[nic.ID] = nic
	f.vms[vmID(name)] = VM{ID: vmID(name), Name: name, Tags: tags, NICIDs: []string{nic.ID}}
}

func (f *fakeCloud) ListVMs(context.Context, string) ([]VM, error) {
	if f.listFails > 0 {
		f.listFails--
		return nil, errors.New("429 TooManyRequests")
	}
	var out []VM
	for _, v := range f.vms {
		out = append(out, v)
	}
	return out, nil
}

func (f *fakeCloud) ListNICs(context.Context, string) ([]NIC, error) {
	var out []NIC
	for _, n := range f.nics {
		out = append(out, n)
	}
	return out, nil
}

func (f *fakeCloud) DeleteVM(_ context.Context, id string) error {
	vm, ok := f.vms[id]
	if !ok {
		return nil
	}
	delete(f.vms, id)
	f.deleted = append(f.deleted, vm.Name)
	for _, n := range vm.NICIDs {
		if f.reserved[n] == 0 {
			delete(f.nics, n)
		} else {
			nic := f.nics[n]
			nic.VMID = ""
			f.nics[n] = nic
		}
	}
	return nil
}

func (f *fakeCloud) DeleteNIC(_ context.Context, id string) error {
	if f.reserved[id] > 0 {
		f.reserved[id]--
		return errors.New("NicReservedForAnotherVm: the NIC is reserved for 180 seconds")
	}
	if _, ok := f.nics[id]; ok {
		f.deleted = append(f.deleted, f.nics[id].Name)
		delete(f.nics, id)
	}
	return nil
}

func sweep(f *fakeCloud) (*Sweep, *[]time.Duration) {
	var slept []time.Duration
	return &Sweep{
		Cloud: f, ResourceGroup: rg, SubnetID: subnet, TagKey: "caa-azure-stack", TagValue: "caa-azure/snp",
		Backoff: []time.Duration{time.Second, 2 * time.Second}, Timeout: 20 * time.Second,
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil },
	}, &slept
}

func TestSweepDeletesOnlyOurVMs(t *testing.T) {
	f := newFake()
	f.addVM("podvm-nginx-1-abcd1234", map[string]string{"caa-azure-stack": "caa-azure/snp"}, subnet)
	f.addVM("podvm-untagged-5678", nil, subnet)                                                 // CAA name, our subnet
	f.addVM("podvm-otherstack-9", map[string]string{"caa-azure-stack": "caa-azure/tdx"}, other) // another stack's
	f.addVM("jumpbox", nil, other)                                                              // the user's
	f.addVM("podvm-elsewhere", nil, other)                                                      // prefix only, other subnet
	s, _ := sweep(f)
	report, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(report.DeletedVMs, ",") != "podvm-nginx-1-abcd1234,podvm-untagged-5678" {
		t.Errorf("deleted %v", report.DeletedVMs)
	}
	for _, keep := range []string{"jumpbox", "podvm-otherstack-9", "podvm-elsewhere"} {
		if _, ok := f.vms[vmID(keep)]; !ok {
			t.Errorf("%s was deleted although it is not provably this stack's", keep)
		}
	}
	if len(report.Spared) != 2 {
		t.Errorf("spared = %v, want the two podvm- VMs that are not ours", report.Spared)
	}
	if !strings.Contains(report.String(), "deleted 2 leftover pod VM(s)") {
		t.Errorf("report: %s", report)
	}
}

func TestSweepRetriesReservedNICs(t *testing.T) {
	f := newFake()
	f.addVM("podvm-a-1", map[string]string{"caa-azure-stack": "caa-azure/snp"}, subnet)
	f.reserved[nicID("podvm-a-1-net")] = 3
	orphan := NIC{ID: nicID("podvm-orphan-net"), Name: "podvm-orphan-net", SubnetIDs: []string{subnet}}
	f.nics[orphan.ID] = orphan
	s, slept := sweep(f)
	report, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.nics) != 0 {
		t.Errorf("NICs left: %v", f.nics)
	}
	if report.Attempts != 4 || len(*slept) != 3 || (*slept)[0] != time.Second || (*slept)[2] != 2*time.Second {
		t.Errorf("attempts %d, waits %v: want back-off 1s, 2s, 2s", report.Attempts, *slept)
	}
	if strings.Join(report.DeletedNICs, ",") != "podvm-a-1-net,podvm-orphan-net" {
		t.Errorf("deleted NICs %v", report.DeletedNICs)
	}
}

func TestSweepRetriesAPIErrors(t *testing.T) {
	f := newFake()
	f.addVM("podvm-a-1", map[string]string{"caa-azure-stack": "caa-azure/snp"}, subnet)
	f.listFails = 2
	s, slept := sweep(f)
	report, err := s.Run(context.Background())
	if err != nil || len(report.DeletedVMs) != 1 || len(*slept) != 2 {
		t.Fatalf("report %+v, err %v, waits %v", report, err, *slept)
	}
}

func TestSweepGivesUpAndSaysWhy(t *testing.T) {
	f := newFake()
	f.addVM("user-vm", nil, subnet) // the user's VM in our subnet blocks the delete
	s, _ := sweep(f)
	report, err := s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "user-vm-net") || !strings.Contains(err.Error(), "not this stack's") ||
		!strings.Contains(err.Error(), "gave up") {
		t.Fatalf("want an error naming the foreign NIC, got %v", err)
	}
	if _, ok := f.vms[vmID("user-vm")]; !ok || len(report.DeletedVMs) != 0 {
		t.Error("a VM without our tag or prefix was deleted")
	}
}

func TestSweepNothingToDo(t *testing.T) {
	s, slept := sweep(newFake())
	report, err := s.Run(context.Background())
	if err != nil || report.Attempts != 1 || len(*slept) != 0 || report.String() != "no leftover pod VMs or NICs found" {
		t.Fatalf("%+v %v", report, err)
	}
	if _, err := (&Sweep{}).Run(context.Background()); err == nil {
		t.Error("a sweep without its settings must refuse to run")
	}
}

func TestGroupAndName(t *testing.T) {
	g, n, err := groupAndName(vmID("podvm-x"))
	if err != nil || g != rg || n != "podvm-x" {
		t.Errorf("got %q %q %v", g, n, err)
	}
	if _, _, err := groupAndName("podvm-x"); err == nil {
		t.Error("a bare name is not an id")
	}
}
