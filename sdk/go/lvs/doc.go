// Linux Virtual Server (IPVS) load balancers converged over SSH: directors, services, real servers.
package lvs
