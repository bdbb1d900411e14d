// Package workload holds the sample workloads that run in peer pods.
package workload
