package podvms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
)

// AzureCloud is Cloud on the Azure Resource Manager API.
type AzureCloud struct {
	vms  *armcompute.VirtualMachinesClient
	nics *armnetwork.InterfacesClient
}

// NewAzureCloud authenticates with the default credential chain (Azure CLI
// login, workload identity in CI, environment variables): the same
// identity the Pulumi provider deploys with.
func NewAzureCloud(subscriptionID string) (*AzureCloud, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("no Azure credentials for the pod VM sweep (run `az login`): %w", err)
	}
	vms, err := armcompute.NewVirtualMachinesClient(subscriptionID, cred, nil)
	if err != nil {
		return nil, err
	}
	nics, err := armnetwork.NewInterfacesClient(subscriptionID, cred, nil)
	if err != nil {
		return nil, err
	}
	return &AzureCloud{vms: vms, nics: nics}, nil
}

// ListVMs lists the VMs of a resource group.
func (a *AzureCloud) ListVMs(ctx context.Context, resourceGroup string) ([]VM, error) {
	var out []VM
	pager := a.vms.NewListPager(resourceGroup, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if notFound(err) {
				return nil, nil
			}
			return nil, err
		}
		for _, v := range page.Value {
			vm := VM{ID: deref(v.ID), Name: deref(v.Name), Tags: map[string]string{}}
			for k, t := range v.Tags {
				vm.Tags[k] = deref(t)
			}
			if v.Properties != nil && v.Properties.NetworkProfile != nil {
				for _, n := range v.Properties.NetworkProfile.NetworkInterfaces {
					vm.NICIDs = append(vm.NICIDs, deref(n.ID))
				}
			}
			out = append(out, vm)
		}
	}
	return out, nil
}

// ListNICs lists the network interfaces of a resource group.
func (a *AzureCloud) ListNICs(ctx context.Context, resourceGroup string) ([]NIC, error) {
	var out []NIC
	pager := a.nics.NewListPager(resourceGroup, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if notFound(err) {
				return nil, nil
			}
			return nil, err
		}
		for _, n := range page.Value {
			nic := NIC{ID: deref(n.ID), Name: deref(n.Name)}
			if p := n.Properties; p != nil {
				if p.VirtualMachine != nil {
					nic.VMID = deref(p.VirtualMachine.ID)
				}
				for _, ip := range p.IPConfigurations {
					if ip.Properties != nil && ip.Properties.Subnet != nil {
						nic.SubnetIDs = append(nic.SubnetIDs, deref(ip.Properties.Subnet.ID))
					}
				}
			}
			out = append(out, nic)
		}
	}
	return out, nil
}

// DeleteVM deletes a VM and waits; one that is already gone is fine.
func (a *AzureCloud) DeleteVM(ctx context.Context, id string) error {
	return deleteAndWait(ctx, id, func(group, name string) (*azruntime.Poller[armcompute.VirtualMachinesClientDeleteResponse], error) {
		return a.vms.BeginDelete(ctx, group, name, nil)
	})
}

// DeleteNIC deletes a NIC and waits; one that is already gone is fine.
func (a *AzureCloud) DeleteNIC(ctx context.Context, id string) error {
	return deleteAndWait(ctx, id, func(group, name string) (*azruntime.Poller[armnetwork.InterfacesClientDeleteResponse], error) {
		return a.nics.BeginDelete(ctx, group, name, nil)
	})
}

// deleteAndWait starts a delete by resource group and name and polls it
// to the end; a resource that is already gone counts as deleted.
func deleteAndWait[T any](ctx context.Context, id string, begin func(group, name string) (*azruntime.Poller[T], error)) error {
	group, name, err := groupAndName(id)
	if err != nil {
		return err
	}
	poller, err := begin(group, name)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, nil)
	}
	if notFound(err) {
		return nil
	}
	return err
}

// groupAndName reads the resource group and name from an ARM id.
func groupAndName(id string) (string, string, error) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") && len(parts) > i+1 {
			return parts[i+1], parts[len(parts)-1], nil
		}
	}
	return "", "", fmt.Errorf("%q is not an ARM resource id", id)
}

func notFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
