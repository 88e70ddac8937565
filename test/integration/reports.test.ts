/**
 * Scheduled reports: a real server, a real SMTP server (smtp-server), violations from a
 * real agent socket dated in the week that ended last, a restart on the same store. What it
 * cannot show: a real week passing (the period is the one that ended before the test ran).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { lastCompletePeriod, localMidnight } from '../../server/reports/period.js';
import { runCli } from '../support/processes.js';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';
import { adminToken, agent, api, decodeMail, makeEvent, startSmtp } from './alerts-receivers.js';

const open: Array<{ close(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

const start = (dataDir: string, smtpUrl: string, keepData = true): Promise<TestServer> =>
  startTestServer({ dataDir, smtpUrl, mailFrom: 'reports@clinic.example', reportCheckMs: 50, keepData });

describe('scheduled reports', () => {
  it('mails last week\'s report for a site with its CSV attached, once, across a restart', async () => {
    const smtp = await startSmtp();
    open.push(smtp);
    const dataDir = tempDir('cg-reports-');
    const admin = await adminToken(dataDir);
    let server = await start(dataDir, smtp.url);

    // The demo policy's zone is UTC. Two violations in the week that ended last, one this week, one at another site.
    const week = lastCompletePeriod('weekly', 'UTC', Date.now());
    const at = (ms: number) => new Date(ms).toISOString();
    const north = await agent(server.wsUrl, { site: 'north', host: { hostname: 'NORTH-RM1', platform: 'win32', osVersion: '10', agentVersion: '0.1.0' } });
    const south = await agent(server.wsUrl, { site: 'south', host: { hostname: 'SOUTH-RM1', platform: 'win32', osVersion: '10', agentVersion: '0.1.0' } });
    const zoom = makeEvent({ app: 'zoom', state: 'in-call', user: 'CLINIC\\dr.lee', at: at(week.since + 86_400_000 + 3_600_000) });
    const zoomEnd = makeEvent({ ...zoom, id: crypto.randomUUID(), kind: 'ended', at: at(week.since + 86_400_000 + 3_600_000 + 30 * 60_000) });
    const wa = makeEvent({ app: 'whatsapp', state: 'running', user: 'CLINIC\\dr.lee', evidence: ['path C:\\Users\\dr.lee\\WhatsApp.exe'], at: at(week.since + 2 * 86_400_000) });
    const thisWeek = makeEvent({ app: 'zoom', at: at(week.until + 60_000) });
    await north.send([zoom, zoomEnd, wa, ...(week.until + 60_000 < Date.now() ? [thisWeek] : [])]);
    await south.send([makeEvent({ app: 'facetime', at: at(week.since + 3_600_000) })]);
    north.close();
    south.close();

    const bad = await api(server.url, admin, 'POST', '/api/reports', { every: 'fortnightly', site: 'north', email: ['lead@clinic.example'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('weekly or monthly');
    const added = await api(server.url, admin, 'POST', '/api/reports', { every: 'weekly', site: 'north', email: ['lead@clinic.example'] });
    expect(added.status).toBe(201);

    await vi.waitFor(() => expect(smtp.mails.length).toBe(1), { timeout: 10_000 });
    const mail = decodeMail(smtp.mails[0]!.raw);
    expect(smtp.mails[0]!.to).toEqual(['lead@clinic.example']);
    expect(mail.subject).toBe(`ConsultGuard weekly report, north: ${week.firstDay} – ${week.lastDay}`);
    expect(mail.text).toContain('Violations: 2');
    expect(mail.text).toContain('Minutes in consumer-app calls: 30');
    expect(mail.text).toMatch(/Zoom: 1/);
    expect(mail.text).toMatch(/WhatsApp: 1/);
    expect(mail.text).toContain('NORTH-RM1: 2');
    expect(mail.attachments).toHaveLength(1);
    const csv = mail.attachments[0]!;
    expect(csv.filename).toBe(`consultguard-north-weekly-${week.firstDay}.csv`);
    const rows = csv.body.trim().split(/\r?\n/);
    expect(rows[0]).toBe('id,agentId,hostname,site,user,app,state,via,startedAt,endedAt,durationSec,nudged,nudgeClicked,evidence');
    expect(rows).toHaveLength(3);
    expect(csv.body).toContain(zoom.violationId as string);
    expect(csv.body).toContain(wa.violationId as string);
    expect(csv.body).not.toContain(thisWeek.violationId as string);
    expect(csv.body).not.toContain('SOUTH-RM1');
    expect(csv.body).toMatch(/,clinician-[0-9a-f]{8},/);
    expect(`${mail.text}${csv.body}`.toLowerCase()).not.toContain('dr.lee');

    await vi.waitFor(async () => expect((await api(server.url, admin, 'GET', '/api/reports')).body.items[0].lastRun).toMatchObject({ period: week.key, state: 'sent' }));
    await server.close();

    // After a restart the week is not sent again. A schedule added afterwards is checked after
    // the first in the same pass, so once its mail is in, the first has had its chance.
    server = await start(dataDir, smtp.url, false);
    open.push(server);
    const cli = await runCli('server', ['report', 'add', '--every', 'monthly', '--site', 'south', '--email', 'south@clinic.example', '--data', dataDir]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^report \S+ added: monthly for site south/);
    await vi.waitFor(() => expect(smtp.mails.length).toBe(2), { timeout: 10_000 });
    const second = smtp.mails[1]!;
    expect(second.to).toEqual(['south@clinic.example']);
    const month = lastCompletePeriod('monthly', 'UTC', Date.now());
    expect(decodeMail(second.raw).subject).toBe(`ConsultGuard monthly report, south: ${month.firstDay} – ${month.lastDay}`);
    const list = await runCli('server', ['report', 'list', '--data', dataDir]);
    expect(list.stdout).toContain(`every=weekly  site=north  email=lead@clinic.example  last=${week.key} sent`);
    expect(smtp.mails).toHaveLength(2);
  });

  it('periods: weeks start on Monday and months on the 1st, at local midnight in the site\'s zone', () => {
    // Wednesday 2026-11-25 10:00 in Sydney (UTC+11 in summer).
    const now = Date.parse('2026-11-24T23:00:00Z');
    const w = lastCompletePeriod('weekly', 'Australia/Sydney', now);
    expect(w).toMatchObject({ key: 'weekly:2026-11-16', firstDay: '2026-11-16', lastDay: '2026-11-22' });
    expect(new Date(w.since).toISOString()).toBe('2026-11-15T13:00:00.000Z');
    expect(new Date(w.until).toISOString()).toBe('2026-11-22T13:00:00.000Z');
    const m = lastCompletePeriod('monthly', 'Australia/Sydney', now);
    expect(m).toMatchObject({ key: 'monthly:2026-10', firstDay: '2026-10-01', lastDay: '2026-10-31' });
    // October 1st is before Sydney's DST start (UTC+10), November 1st after (UTC+11).
    expect(new Date(m.since).toISOString()).toBe('2026-09-30T14:00:00.000Z');
    expect(new Date(m.until).toISOString()).toBe('2026-10-31T13:00:00.000Z');
    expect(new Date(localMidnight('America/New_York', '2026-03-08')).toISOString()).toBe('2026-03-08T05:00:00.000Z');
    // January: the month before is December of the year before.
    expect(lastCompletePeriod('monthly', 'UTC', Date.parse('2027-01-05T00:00:00Z')).key).toBe('monthly:2026-12');
  });
});
