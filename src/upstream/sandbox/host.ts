/**
 * The once-at-start step between the probe and the plans: probe the host, hand the cgroup controllers
 * down to child cgroups, sweep what a previous proxy left. Its result feeds buildPlan for every server.
 */
import { enableControllers, removeStaleCgroups } from './cgroup.ts';
import type { HostFacts } from './plan.ts';
import { probeHost, type ProbeOptions } from './probe.ts';

export async function prepareSandboxHost(opts: ProbeOptions = {}): Promise<HostFacts> {
  const probe = await probeHost(opts);
  if (!probe.cgroup.ok) return probe;
  const { dir, controllers, isHierarchyRoot } = probe.cgroup;
  let enabled: string[] = [];
  let controllerError: string | undefined;
  try {
    enabled = enableControllers(dir, controllers, isHierarchyRoot);
  } catch (err) {
    // Still usable for cgroup.kill; the plan names this error beside each limit it leaves unenforced.
    controllerError = (err as Error).message;
  }
  await removeStaleCgroups(dir);
  return { ...probe, cgroup: { ok: true, dir, controllers: enabled, controllerError } };
}
