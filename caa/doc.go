// Package caa installs the cloud-api-adaptor: the CoCo operator, the
// peer-pods CcRuntime and the CAA overlay. This file holds the names the
// Azure half must agree on; the CAARelease component follows.
package caa

// Namespace is where the operator installs CAA.
const Namespace = "confidential-containers-system"

// ServiceAccountName is the account the CAA DaemonSet runs as.
const ServiceAccountName = "cloud-api-adaptor"

// ServiceAccountSubject is the token subject Entra ID federates with CAA's
// workload identity.
func ServiceAccountSubject() string {
	return "system:serviceaccount:" + Namespace + ":" + ServiceAccountName
}

// RuntimeClass is the runtime class the peer-pods CcRuntime installs.
const RuntimeClass = "kata-remote"

// DeletionPropagationAnnotation tells pulumi-kubernetes how to delete an
// object; "foreground" makes a delete wait until the object's pods are gone.
const DeletionPropagationAnnotation = "pulumi.com/deletionPropagationPolicy"
