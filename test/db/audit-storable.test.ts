import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAutonomyActivities } from '../../activities/autonomy';
import { auditPlaybookRefusal } from '../../src/db/go-live.repository';
import { listAuditEvents, recordAuditEvent, verifyAuditChain } from '../../src/db/audit.repository';
import { AuditKind } from '../../src/domain/audit/kinds';
import { createTestDatabase, type TestDatabase } from '../helpers';

// PostgreSQL refuses U+0000 in text and jsonb: a hostile string in an audited
// payload must never make the audit write (and the workflow waiting on it) fail for ever.
describe('audit writes take any payload', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('escapes NUL in actor, subject and details (keys too), and the chain still verifies', async () => {
    await recordAuditEvent(t.db, {
      actor: 'mal\u0000lory',
      kind: AuditKind.autonomy.messageRejected,
      subject: 'command:\u0000x',
      details: { reason: 'a\u0000b', nested: [{ 'k\u0000': 'v\u0000' }] },
    });
    const [event] = await listAuditEvents(t.db, { kind: AuditKind.autonomy.messageRejected });
    expect(event).toMatchObject({
      actor: 'mal\\u0000lory',
      subject: 'command:\\u0000x',
      details: { reason: 'a\\u0000b', nested: [{ 'k\\u0000': 'v\\u0000' }] },
    });
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: true, events: 1 });
  });

  it('records a refused approval bounded, without control characters or its token', async () => {
    const { auditRejectedMessage } = createAutonomyActivities({ db: t.db });
    await auditRejectedMessage({
      subject: 'command:c-1',
      message: 'approveCommand',
      payload: { approver: 'eve\u0000', role: 'tech_lead', token: 'wat1.secret', comment: 'x'.repeat(1_000_000) },
      problem: 'approver: must not contain control characters',
      key: 'k-1',
    });
    await auditPlaybookRefusal(t.db, {
      id: 'pb-1',
      refusal: {
        step: 'preflight',
        actor: 'eve',
        reason: 'invalid_payload',
        detail: 'evidence: …',
        at: new Date().toISOString(),
      },
      payload: { evidence: 'e\u0007', token: 'wat1.secret' },
      key: 'k-2',
    });
    const [command] = await listAuditEvents(t.db, { kind: AuditKind.autonomy.messageRejected, subject: 'command:c-1' });
    expect(command!.actor).toBe('eve\\u0000');
    const payload = (command!.details as { payload: Record<string, string> }).payload;
    expect(payload.token).toBe('(redacted)');
    expect(payload.comment!.length).toBeLessThan(1000);
    const [step] = await listAuditEvents(t.db, { kind: AuditKind.goLive.messageRejected });
    expect((step!.details as { payload: unknown }).payload).toEqual({ evidence: 'e\\u0007', token: '(redacted)' });
    expect(JSON.stringify(await listAuditEvents(t.db, {}))).not.toContain('wat1.secret');
  });
});
