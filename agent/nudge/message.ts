/** The nudge the clinician reads, from the policy's templates ({app}, {approved}). */
import type { EffectivePolicy } from '../../shared/policy.js';
import type { NudgeRequest } from '../../shared/ipc.js';

/** How long a nudge stays up before it counts as dismissed (enforce mode: the grace period). */
export const VISIBLE_SECONDS = 300;

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} seconds`;
  const minutes = Math.round(seconds / 60);
  return `${minutes} minutes`;
}

export function appName(policy: Pick<EffectivePolicy, 'catalog'>, app: string): string {
  return policy.catalog.apps.find((a) => a.id === app)?.name ?? app;
}

export interface RenderOptions {
  id: string;
  app: string;
  reminder: boolean;
  platform: NodeJS.Platform;
}

export function renderNudge(policy: Pick<EffectivePolicy, 'catalog' | 'approved' | 'nudge' | 'mode'>, opts: RenderOptions): NudgeRequest {
  const name = appName(policy, opts.app);
  const fill = (template: string) => template.replaceAll('{app}', name).replaceAll('{approved}', policy.approved.name);
  const enforce = policy.mode === 'enforce';
  const title = `${opts.reminder ? 'Reminder: ' : ''}${fill(policy.nudge.title)}`;
  // In enforce mode the clinician is told first, in the nudge itself, what will happen and when.
  const message = `${fill(policy.nudge.message)}${enforce ? ` ${name} will be closed in ${duration(policy.nudge.enforceGraceSeconds)}.` : ''}`;
  const open = policy.approved.open[opts.platform as 'win32' | 'darwin' | 'linux'];
  return {
    type: 'nudge',
    id: opts.id,
    title: title.slice(0, 200),
    message: message.slice(0, 1000),
    approved: { name: policy.approved.name, url: policy.approved.url, ...(open ? { open } : {}) },
    ...(policy.nudge.aboutUrl ? { aboutUrl: policy.nudge.aboutUrl } : {}),
    timeoutSec: enforce ? Math.min(3600, policy.nudge.enforceGraceSeconds) : VISIBLE_SECONDS,
  };
}
