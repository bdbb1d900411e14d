// Package infra holds the Azure half of the deployment: the Cluster,
// PeerPodNetwork and WorkloadIdentity components and the pure helpers they
// share (CIDR maths, ARM ids, names, role ids).
package infra
