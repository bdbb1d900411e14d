// Package workload holds the sample workloads that run in peer pods.
package workload

// RuntimeClassName is the runtime class the operator creates for peer pods;
// a pod that names it runs in its own Azure VM.
const RuntimeClassName = "kata-remote"
