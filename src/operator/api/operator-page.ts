/**
 * The operator page over the API: health, control plane, the Monday review,
 * notifications and the audit tail on one screen, which the Temporal UI (one
 * workflow at a time) does not give; and the queue of what awaits the key's
 * roles, approved or declined (with a reason) through the same routes, tokens
 * and workflows as every other client. Every value is written as text, never
 * as HTML.
 */
export const OPERATOR_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Warden</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { display: flex; gap: 1rem; align-items: center; padding: .75rem 1.25rem; background: #1d2330; color: #fff; }
  header h1 { font-size: 1.1rem; margin: 0; }
  header form { margin-left: auto; display: flex; gap: .5rem; }
  input { font: inherit; padding: .25rem .5rem; width: 22rem; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 1rem; padding: 1rem 1.25rem; }
  section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: .75rem 1rem; }
  h2 { font-size: .95rem; margin: 0 0 .5rem; text-transform: uppercase; letter-spacing: .04em; color: #4a5568; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .75rem; margin: 0; }
  dt { color: #4a5568; }
  dd { margin: 0; }
  ul { margin: 0; padding-left: 1.1rem; }
  .badge { display: inline-block; padding: .1rem .6rem; border-radius: 999px; font-weight: 600; color: #fff; }
  .GREEN { background: #2f855a; } .YELLOW { background: #b7791f; } .RED { background: #c53030; }
  .muted { color: #718096; }
  #problem { color: #c53030; padding: 0 1.25rem; }
  #approvals li { margin-bottom: .6rem; }
  #approvals .decide { display: flex; gap: .4rem; margin-top: .25rem; }
  #approvals .decide input { width: auto; flex: 1; }
</style>
</head>
<body>
<header>
  <h1>Warden operator view</h1>
  <span id="updated" class="muted"></span>
  <form id="key-form">
    <input id="key" type="password" placeholder="API key (wk_…)" autocomplete="off">
    <button type="submit">Use key</button>
  </form>
</header>
<p id="problem" role="alert"></p>
<main>
  <section><h2>Approvals for you</h2><p id="decided" class="muted" role="status"></p><ul id="approvals"></ul></section>
  <section><h2>Health</h2><div id="health"></div></section>
  <section><h2>Control plane</h2><dl id="control-plane"></dl></section>
  <section><h2>What broke</h2><ul id="broke"></ul></section>
  <section><h2>What was denied</h2><ul id="denied"></ul></section>
  <section><h2>What drifted</h2><ul id="drifted"></ul></section>
  <section><h2>Waiting for approval</h2><ul id="waiting"></ul></section>
  <section><h2>Notifications</h2><ul id="notifications"></ul></section>
  <section><h2>Audit log</h2><ul id="audit"></ul></section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const text = (tag, value, cls) => { const el = document.createElement(tag); el.textContent = value; if (cls) el.className = cls; return el; };
  const list = (id, items) => { const ul = $(id); ul.replaceChildren(...(items.length ? items : ['nothing']).map((t) => text('li', t))); };
  const counted = (label, rows, key) => (rows.length ? [label + ': ' + rows.map((r) => r[key] + ' ' + r.count).join(', ')] : []);
  let key = sessionStorage.getItem('warden-key') || '';

  async function get(path) {
    const response = await fetch(path, { headers: { authorization: 'Bearer ' + key } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw Object.assign(new Error(body.message || response.statusText), { status: response.status });
    return body;
  }

  function showControlPlane(cp) {
    const rows = [
      ['go-live', cp.goLiveEnabled ? 'ON' : 'off'],
      ['trading', cp.tradingState || (cp.killSwitchEngaged ? 'halted' : 'active')],
      ['kill switch', cp.killSwitchEngaged ? 'ENGAGED (' + (cp.killSwitchMode || 'halt') + ') by ' + (cp.killSwitchEngagedBy || '?') + ' (' + (cp.killSwitchSource || '?') + ') at ' + cp.killSwitchEngagedAt : 'released'],
      ['release approvals', cp.releaseApprovals.length ? cp.releaseApprovals.map((a) => a.actor + ' (' + a.role + ')').join(', ') : 'none'],
      ['apply mode', cp.applyMode],
      ['capital band', cp.capitalBand + (cp.capitalUsage === null ? '' : ' (' + (cp.capitalUsage * 100).toFixed(1) + '% of the GLOBAL cap)')],
      ['last change', 'v' + cp.version + ' by ' + cp.updatedBy + ' at ' + cp.updatedAt + (cp.reason ? ' — ' + cp.reason : '')],
    ];
    $('control-plane').replaceChildren(...rows.flatMap(([k, v]) => [text('dt', k), text('dd', v)]));
  }

  function showReview(r) {
    const health = $('health');
    health.replaceChildren(text('span', r.health.status, 'badge ' + r.health.status));
    const reasons = document.createElement('ul');
    reasons.replaceChildren(...r.health.reasons.map((x) => text('li', x.status + ' ' + x.code + ': ' + x.detail)));
    health.append(reasons);
    const b = r.broke;
    list('broke', Object.entries(b).filter(([, v]) => v.count > 0).map(([k, v]) => k + ': ' + v.count));
    const d = r.denied;
    list('denied', [
      ...(d.deals.total ? ['deals: ' + d.deals.byGate.map((g) => g.gate + '/' + g.reason + ' ' + g.count).join(', ')] : []),
      ...counted('risk', d.risk, 'reason'),
      ...counted('permits', d.permits, 'reason'),
      ...counted('strategy gate', d.strategyGate, 'action'),
      ...counted('control-plane changes', d.controlPlaneChanges, 'change'),
      ...counted('rejected messages', d.rejectedMessages, 'kind'),
    ]);
    list('drifted', [
      ...r.drifted.tripwires.map((t) => 'tripwire ' + t.policy + ' triggered'),
      ...r.drifted.strategyDrift.map((s) => s.strategyId + ' ' + s.metric + ': ' + s.worst),
      ...r.drifted.scorecards.filter((s) => s.belowTarget).map((s) => 'scorecard ' + s.domain + ' below target'),
    ]);
    const w = r.awaitingApproval;
    list('waiting', [
      ...w.proposals.map((p) => 'proposal ' + p.proposalId + ' ' + p.fromPhase + '→' + p.targetPhase + ', missing ' + p.missingRoles.join(', ')),
      ...(w.killSwitchRelease ? ['kill-switch release: approved by ' + w.killSwitchRelease.approvals.map((a) => a.actor).join(', ')] : []),
      ...(w.workflows || []).map((x) => x.kind + ' ' + x.workflowId + ': ' + x.detail),
      ...w.playbooks.map((p) => 'go-live playbook ' + p.id + ': ' + p.stepsDone + ' of ' + p.stepsTotal + ' steps done, next ' + (p.nextStep || 'none')),
    ]);
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: 'POST',
      headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.message || response.statusText);
    return answer;
  }

  // Each item decided where every client decides it: its own route, signed for the key's identity.
  let shownApprovals = null;
  function showApprovals(items) {
    const ul = $('approvals');
    // Redrawn only when the queue changed: a reason being typed survives the refresh.
    const shown = JSON.stringify(items.map((item) => [item.workflowId, item.title]));
    if (shown === shownApprovals) return;
    shownApprovals = shown;
    if (!items.length) return ul.replaceChildren(text('li', 'nothing awaits your roles'));
    ul.replaceChildren(...items.map((item) => {
      const li = text('li', item.title + ' — as ' + item.as);
      li.dataset.workflowId = item.workflowId;
      if (!item.approve) {
        li.append(text('div', 'decide with the CLI or the Temporal UI', 'muted'));
        return li;
      }
      const form = document.createElement('form');
      form.className = 'decide';
      const reason = document.createElement('input');
      reason.placeholder = 'comment or reason (a decline needs one)';
      reason.name = 'reason';
      const approve = text('button', 'Approve');
      approve.value = 'approve';
      const decline = text('button', 'Decline');
      decline.value = 'decline';
      form.append(reason, approve, decline);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const approving = event.submitter === approve;
        const said = reason.value.trim();
        const role = item.as;
        // Each route's own body: a release vote always has a reason, a command's decline a comment.
        const body = item.kind === 'kill_switch_release'
          ? { role, reason: said || 'approved from the operator page' }
          : approving || item.kind === 'command' ? { role, ...(said ? { comment: said } : {}) } : { role, reason: said };
        try {
          await post(approving ? item.approve : item.decline, body);
          $('decided').textContent = (approving ? 'approved: ' : 'declined: ') + item.title;
        } catch (error) {
          $('decided').textContent = 'not counted: ' + error.message;
        }
        void refresh();
      });
      li.append(form);
      return li;
    }));
  }

  async function refresh() {
    if (!key) {
      $('problem').textContent = 'Enter an API key (warden keys create --identity you --roles analyst).';
      return;
    }
    try {
      const [cp, review, notes, approvals] = await Promise.all([get('/control-plane'), get('/review'), get('/notifications?limit=10'), get('/approvals')]);
      showApprovals(approvals);
      showControlPlane(cp);
      showReview(review);
      list('notifications', notes.map((n) => n.at + ' ' + n.kind + ': ' + n.summary + ' [' + (n.deliveries.map((x) => x.webhook + ' ' + x.status).join(', ') || 'recorded') + ']'));
      try {
        const audit = await get('/audit?limit=15');
        list('audit', audit.events.map((e) => e.at + ' ' + e.kind + ' by ' + e.actor));
      } catch (error) {
        list('audit', [error.status === 403 ? 'this key may not read the audit log' : String(error.message)]);
      }
      $('problem').textContent = '';
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (error) {
      $('problem').textContent = error.message;
    }
  }

  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    key = $('key').value.trim();
    sessionStorage.setItem('warden-key', key);
    void refresh();
  });
  void refresh();
  setInterval(refresh, 10000);
})();
</script>
</body>
</html>
`;
