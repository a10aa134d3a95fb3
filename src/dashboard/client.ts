/**
 * The page's script, served as /assets/dashboard.js. It builds every element with createElement
 * and sets S3 text with textContent only, never as HTML; the Content-Security-Policy (guard.ts)
 * enforces it with Trusted Types, so an assignment of a string to innerHTML would throw. It runs
 * in the browser, not in Node (the browser tests exercise it): plain ES2022, ASCII-only (non-ASCII
 * text is written \uXXXX), with no backtick and no dollar-brace, so String.raw keeps it as written.
 */

export const CLIENT_JS = String.raw`(function () {
'use strict';

var main = document.getElementById('main');
var statusLine = document.getElementById('status');
var sourceLine = document.getElementById('source');
var banner = document.getElementById('banner');
var current = { path: null, data: null };
var loading = null;
var again = false;

// Elements only; every string is a text node.
function el(tag, props) {
  var node = document.createElement(tag);
  if (props) {
    for (var k in props) {
      if (!Object.prototype.hasOwnProperty.call(props, k)) continue;
      var v = props[k];
      if (v === null || v === undefined) continue;
      if (k === 'className') node.className = v;
      else if (k === 'text') node.textContent = String(v);
      else if (k === 'href') node.setAttribute('href', v.charAt(0) === '#' ? v : '#/');
      else if (k === 'data') { for (var d in v) node.dataset[d] = String(v[d]); }
      else if (k === 'title' || k === 'type' || k === 'value' || k === 'placeholder' || k === 'aria-sort' || k === 'aria-label' || k === 'scope') node.setAttribute(k, String(v));
    }
  }
  for (var i = 2; i < arguments.length; i++) add(node, arguments[i]);
  return node;
}

function add(node, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) { for (var i = 0; i < child.length; i++) add(node, child[i]); return; }
  node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
}

function duration(ms) {
  if (ms === null || ms === undefined) return '?';
  ms = Math.max(0, ms);
  if (ms < 1000) return Math.round(ms) + 'ms';
  var s = Math.floor(ms / 1000);
  if (s < 60) return s + 's';
  var m = Math.floor(s / 60);
  if (m < 60) return m + 'm' + (s % 60 ? (s % 60) + 's' : '');
  var h = Math.floor(m / 60);
  if (h < 48) return h + 'h' + (m % 60 ? (m % 60) + 'm' : '');
  return Math.floor(h / 24) + 'd';
}

function clock(ms) {
  if (ms === null || ms === undefined) return '-';
  var d = new Date(ms);
  function two(n) { return (n < 10 ? '0' : '') + n; }
  return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) + ' ' + two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
}

function relative(ms, now) {
  if (ms === null || ms === undefined) return '';
  return ms > now ? 'in ' + duration(ms - now) : duration(now - ms) + ' ago';
}

function appHref(app, env, query) {
  var q = [];
  for (var k in query || {}) if (query[k] !== null && query[k] !== undefined && query[k] !== '') q.push(k + '=' + encodeURIComponent(query[k]));
  return '#/app/' + encodeURIComponent(app) + '/' + encodeURIComponent(env) + (q.length ? '?' + q.join('&') : '');
}

function parseRoute() {
  var hash = location.hash || '#/';
  var q = hash.indexOf('?');
  var path = q < 0 ? hash : hash.slice(0, q);
  var params = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  var m = /^#\/app\/([^/]+)\/([^/]+)$/.exec(path);
  if (m) {
    try {
      return { view: 'app', app: decodeURIComponent(m[1]), env: decodeURIComponent(m[2]), params: params, path: path };
    } catch (e) { /* a malformed address: show the overview */ }
  }
  return { view: 'overview', params: params, path: '#/' };
}

function apiUrl(route) {
  if (route.view === 'app') return '/api/app?app=' + encodeURIComponent(route.app) + '&env=' + encodeURIComponent(route.env);
  return '/api/overview';
}

function load() {
  if (loading) { again = true; return loading; }
  var route = parseRoute();
  loading = fetch(apiUrl(route), { cache: 'no-store', credentials: 'same-origin' })
    .then(function (res) {
      if (res.status === 404) return { missing: true };
      if (!res.ok) throw new Error('the dashboard answered ' + res.status);
      return res.json();
    })
    .then(function (data) {
      if (parseRoute().path !== route.path) return;
      current = { path: route.path, data: data };
      render();
    })
    .catch(function (e) { setStatus('cannot load: ' + e.message, true); })
    .finally(function () {
      loading = null;
      if (again) { again = false; load(); }
    });
  return loading;
}

function setStatus(text, bad) {
  statusLine.textContent = text;
  statusLine.className = 'status' + (bad ? ' tone-bad' : '');
}

function render() {
  var data = current.data;
  var route = parseRoute();
  if (!data) return;
  performance.mark('hoist:render:start');
  if (data.missing) {
    main.replaceChildren(el('p', null, 'Nothing in the bucket for this app and env. ', el('a', { href: '#/', text: 'Back to the overview' })));
  } else {
    header(data);
    var view = route.view === 'app' ? appView(data, route) : overviewView(data);
    if (main.firstChild !== view || main.childNodes.length !== 1) main.replaceChildren(view);
    document.body.dataset.refresh = String(data.refresh);
  }
  performance.measure('hoist:render', 'hoist:render:start');
}

function header(data) {
  sourceLine.textContent = 's3://' + data.bucket + '/' + data.prefix;
  var r = data.requests;
  setStatus('read ' + clock(data.readAt) + ' (refresh ' + data.refresh + ': ' + r.list + ' LIST, ' + r.get + ' GET, ' + data.durationMs + ' ms)' + (data.trust ? '' : ' \u00b7 no --trust: signatures unverified'), false);
  if (data.error) {
    banner.hidden = false;
    banner.textContent = 'The last refresh failed at ' + clock(data.error.at) + ' (' + data.error.message + '); showing what was read at ' + clock(data.readAt) + '.';
  } else {
    banner.hidden = true;
    banner.textContent = '';
  }
}

function trustLine(view) {
  return el('span', { className: 'trust-' + view.trust.status, data: { trust: view.trust.status } }, view.trust.text);
}

function releaseCell(view, now) {
  if (!view) return el('span', { className: 'muted', text: 'nothing published' });
  if (view.version === null && view.sequence === null) return trustLine(view);
  return el('div', null,
    el('div', null, el('strong', { text: view.version === null ? '?' : view.version }), el('span', { className: 'muted small' }, ' #' + view.sequence)),
    el('div', { className: 'small' }, trustLine(view)),
    view.issuedAt !== null ? el('div', { className: 'muted small', text: 'issued ' + relative(view.issuedAt, now) }) : null);
}

function pinCell(view) {
  if (!view) return el('span', { className: 'muted', text: '-' });
  var what = view.unpin ? 'unpinned' : 'pinned to ' + (view.version === null ? '?' : view.version);
  return el('div', null,
    el('div', null, el('strong', { text: what }), view.hosts ? el('span', { className: 'muted small' }, ' (' + view.hosts.length + ' host' + (view.hosts.length === 1 ? '' : 's') + ')') : null),
    view.reason !== null ? el('div', { className: 'small', text: 'reason: ' + view.reason }) : null,
    el('div', { className: 'small' }, trustLine(view)));
}

function chips(row, linked) {
  return el('div', { className: 'chips' }, row.counts.map(function (c) {
    var kids = [el('span', { className: 'state', text: c.state }), ' ', el('span', { className: 'n', text: c.n })];
    return linked
      ? el('a', { className: 'chip tone-' + c.tone, href: appHref(row.app, row.env, { state: c.state }), data: { countState: c.state } }, kids)
      : el('span', { className: 'chip tone-' + c.tone, data: { countState: c.state } }, kids);
  }));
}

function marks(row) {
  return el('div', null, row.marks.map(function (m) { return el('span', { className: 'mark', data: { mark: m.kind }, text: m.text }); }));
}

function bar(progress) {
  if (!progress) return el('span', { className: 'muted', text: '-' });
  var node = el('div', { className: 'bar', 'aria-label': 'rollout progress' });
  if (progress.kind === 'invalid') return node;
  progress.steps.forEach(function (s) {
    var seg = el('div', { className: 'seg' + (s.due ? ' due' : ''), title: 'step ' + (s.index + 1) + ': ' + s.fromPercent + '-' + s.percent + '%, ' + s.done + '/' + s.hosts + ' hosts done' + (s.failed ? ', ' + s.failed + ' failed' : '') });
    seg.style.width = Math.max(0, s.percent - s.fromPercent) + '%';
    if (s.hosts > 0) {
      var fill = el('div', { className: 'fill' });
      fill.style.width = (100 * s.done / s.hosts) + '%';
      seg.appendChild(fill);
      if (s.failed > 0) {
        var fail = el('div', { className: 'fail' });
        fail.style.width = (100 * s.failed / s.hosts) + '%';
        seg.appendChild(fail);
      }
    }
    node.appendChild(seg);
  });
  return node;
}

function progressText(progress, now) {
  if (!progress) return '';
  if (progress.kind === 'invalid') return 'rollout unreadable: ' + progress.reason;
  var due = progress.steps.filter(function (s) { return s.due; }).length;
  var last = progress.steps[progress.steps.length - 1];
  var done = 0, hosts = 0;
  progress.steps.forEach(function (s) { done += s.done; hosts += s.hosts; });
  var parts = [];
  if (progress.kind === 'steps') {
    var next = progress.steps.filter(function (s) { return !s.due; })[0];
    parts.push('step ' + due + ' of ' + progress.steps.length + (next ? ', next ' + relative(next.dueAt, now) : ''));
  } else {
    parts.push((last ? last.percent : 100) + '% of the fleet');
  }
  parts.push(done + '/' + hosts + ' on release');
  if (progress.halt) {
    var halt = progress.halt;
    parts.push(halt.reached ? 'HALTED (limit ' + halt.limit + ' failures, ' + halt.failures + ' counted)' : 'halts at ' + halt.limit + ' failures (' + halt.failures + ' so far)');
  }
  return parts.join(' \u00b7 ');
}

function overviewView(data) {
  var now = data.generatedAt;
  if (data.rows.length === 0) {
    return el('div', null, el('h1', { text: 'Fleet' }), el('p', { className: 'muted', text: 'Nothing under channels/ or status/ in this bucket and prefix yet: publish a release, or check --bucket and --prefix.' }));
  }
  var body = el('tbody');
  data.rows.forEach(function (row) {
    var id = row.app + '/' + row.env;
    body.appendChild(el('tr', { className: row.red ? 'red' : '', data: { appEnv: id } },
      el('td', null, el('a', { className: 'appenv', href: appHref(row.app, row.env), text: id })),
      el('td', null, releaseCell(row.desired, now)),
      el('td', null, pinCell(row.pin)),
      el('td', null, el('div', { className: 'small muted', text: row.hosts + ' host' + (row.hosts === 1 ? '' : 's') + ', ' + row.onDesired + ' on desired' }), chips(row, true)),
      el('td', null, bar(row.progress), el('div', { className: 'small muted', text: progressText(row.progress, now) })),
      el('td', null, marks(row))));
  });
  return el('div', null,
    el('h1', { text: 'Fleet' }),
    el('div', { className: 'card' }, el('table', { className: 'overview' },
      el('thead', null, el('tr', null, ['app / env', 'desired', 'pin', 'hosts', 'rollout', 'attention'].map(function (h) { return el('th', { scope: 'col', text: h }); }))),
      body)));
}

var COLUMNS = [
  { key: 'host', label: 'host' },
  { key: 'version', label: 'version' },
  { key: 'desired', label: 'desired' },
  { key: 'state', label: 'state' },
  { key: 'since', label: 'since' },
  { key: 'lastError', label: 'last error' },
  { key: 'ageMs', label: 'age' }
];

function compare(key, dir) {
  return function (a, b) {
    var x = a[key], y = b[key];
    if (x === y) return a.host < b.host ? -1 : a.host > b.host ? 1 : 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return (x < y ? -1 : 1) * dir;
  };
}

// The app page keeps its filter controls across refreshes (a re-render every few seconds must not
// take the focus or the half-typed text of the search box); the rest is rebuilt each time.
var controls = null;

function appControls(route) {
  if (controls && controls.path === route.path) return controls;
  var c = { path: route.path };
  c.select = el('select', { 'aria-label': 'filter by state', data: { filter: 'state' } });
  c.select.addEventListener('change', function () { setQuery({ state: c.select.value }, false); });
  c.search = el('input', { type: 'search', placeholder: 'host id contains', 'aria-label': 'filter by host id', data: { filter: 'host' } });
  c.search.addEventListener('input', function () { setQuery({ q: c.search.value }, true); });
  c.shown = el('span', { className: 'muted small' });
  c.top = el('div');
  c.rollout = el('div');
  c.head = el('thead');
  c.body = el('tbody');
  c.history = el('div');
  c.root = el('div', null,
    el('p', { className: 'small' }, el('a', { href: '#/', text: '\u2190 every app and env' })),
    c.top, c.rollout,
    el('h2', { text: 'Hosts' }),
    el('div', { className: 'toolbar' }, c.select, c.search, c.shown),
    el('div', { className: 'card' }, el('table', { className: 'hosts' }, c.head, c.body)),
    c.history);
  controls = c;
  return c;
}

function queryOf(route) {
  var sortKey = route.params.get('sort') || 'host';
  if (!COLUMNS.some(function (c) { return c.key === sortKey; })) sortKey = 'host';
  return { state: route.params.get('state') || '', q: route.params.get('q') || '', sort: sortKey, dir: route.params.get('dir') === 'desc' ? 'desc' : '' };
}

// A new filter or sort: a new history entry (back undoes it), or for typing, the same entry.
function setQuery(change, replace) {
  var route = parseRoute();
  if (route.view !== 'app') return;
  var q = queryOf(route);
  for (var k in change) q[k] = change[k];
  if (q.sort === 'host') q.sort = '';
  var hash = appHref(route.app, route.env, q);
  if (replace) { history.replaceState(null, '', hash); render(); } else location.hash = hash;
}

function appView(data, route) {
  var now = data.generatedAt;
  var row = data.row;
  var query = queryOf(route);
  var text = query.q.toLowerCase();
  var dir = query.dir === 'desc' ? -1 : 1;
  var c = appControls(route);

  var hosts = data.hosts.filter(function (h) {
    return (query.state === '' || h.state === query.state) && (text === '' || h.host.toLowerCase().indexOf(text) >= 0);
  }).sort(compare(query.sort, dir));

  var options = [['', 'every state (' + data.hosts.length + ')']].concat(row.counts.map(function (x) { return [x.state, x.state + ' (' + x.n + ')']; }));
  var signature = JSON.stringify(options);
  if (c.select.dataset.options !== signature) {
    c.select.replaceChildren.apply(c.select, options.map(function (o) { return el('option', { value: o[0], text: o[1] }); }));
    c.select.dataset.options = signature;
  }
  if (c.select.value !== query.state) c.select.value = query.state;
  if (document.activeElement !== c.search && c.search.value !== query.q) c.search.value = query.q;
  c.shown.textContent = 'showing ' + hosts.length + ' of ' + data.hosts.length;
  c.shown.dataset.shown = String(hosts.length);

  c.head.replaceChildren(el('tr', null, COLUMNS.map(function (col) {
    var sorted = col.key === query.sort;
    var button = el('button', { type: 'button', text: col.label });
    button.addEventListener('click', function () { setQuery({ sort: col.key, dir: sorted && dir === 1 ? 'desc' : '' }, false); });
    return el('th', { scope: 'col', 'aria-sort': sorted ? (dir === 1 ? 'ascending' : 'descending') : 'none', data: { sort: col.key } }, button);
  })));

  var rows = document.createDocumentFragment();
  hosts.forEach(function (h) {
    rows.appendChild(el('tr', { className: (h.red ? 'red ' : '') + 'host-row', data: { host: h.host, state: h.state } },
      el('td', { className: 'host mono' }, h.host,
        h.mismatch !== null ? el('div', { className: 'warn', data: { mismatch: '1' }, text: '\u26a0 ' + h.mismatch }) : null,
        h.agent !== null ? el('div', { className: 'muted small', text: 'agent ' + h.agent }) : null),
      el('td', { className: 'mono', text: h.version === null ? '-' : h.version }),
      el('td', { className: 'mono' }, h.desired === null ? el('span', { className: 'muted', text: '?', title: 'this agent does not report what it should run' }) : h.desired + (h.desiredKind === 'pin' ? ' (pin)' : '')),
      el('td', null, el('span', { className: 'chip tone-' + h.tone, text: h.state }),
        h.skipped !== null ? el('div', { className: 'small muted', text: 'skipped: ' + h.skipped + (h.eligibleAt !== null ? ', eligible ' + clock(h.eligibleAt) + ' (' + relative(h.eligibleAt, now) + ')' : '') }) : null,
        h.step !== null ? el('div', { className: 'small muted', text: 'step ' + (h.step + 1) }) : null),
      el('td', { className: 'small', text: h.since === null ? '-' : relative(h.since, now), title: h.since === null ? null : clock(h.since) }),
      el('td', { className: 'err small' }, h.lastError === null ? '-' : h.lastError,
        h.rejected !== null ? el('div', { className: 'warn', text: 'rejected: ' + h.rejected }) : null),
      el('td', { className: 'small' + (h.stale ? ' tone-bad' : ''), text: duration(h.ageMs) + (h.stale ? ' STALE' : '') })));
  });
  c.body.replaceChildren(rows);

  c.top.replaceChildren(
    el('h1', null, row.app + ' / ' + row.env),
    marks(row),
    el('div', { className: 'grid' },
      releaseCard('Desired release (channel)', row.desired, now),
      pinCardView(row.pin, now),
      el('div', { className: 'card' }, el('h2', { text: 'Hosts' }), el('div', { className: 'small muted', text: row.hosts + ' reporting, ' + row.onDesired + ' on their desired release' }), chips(row, true))));
  c.rollout.replaceChildren(rolloutSection(row.progress, now) || '');
  c.history.replaceChildren(historySection(data, now));
  return c.root;
}

function releaseCard(title, view, now) {
  var card = el('div', { className: 'card' }, el('h2', { text: title }));
  if (!view) { card.appendChild(el('p', { className: 'muted', text: 'nothing published' })); return card; }
  card.appendChild(el('dl', { className: 'kv' },
    el('dt', { text: 'version' }), el('dd', { className: 'mono', text: view.version === null ? '?' : view.version }),
    el('dt', { text: 'sequence' }), el('dd', { className: 'mono', text: view.sequence === null ? '?' : view.sequence }),
    el('dt', { text: 'artifact' }), el('dd', { className: 'mono', text: view.sha12 === null ? '-' : view.sha12 }),
    el('dt', { text: 'issued' }), el('dd', { text: clock(view.issuedAt) + (view.issuedAt === null ? '' : ' (' + relative(view.issuedAt, now) + ')') }),
    el('dt', { text: 'expires' }), el('dd', { text: clock(view.expiresAt) }),
    view.rollout !== null ? [el('dt', { text: 'rollout' }), el('dd', { text: view.rollout })] : null,
    el('dt', { text: 'signatures' }), el('dd', null, trustLine(view)),
    view.notes.map(function (n) { return [el('dt', { text: n[0] }), el('dd', { text: n[1] })]; })));
  return card;
}

function pinCardView(view, now) {
  if (!view) return el('div', { className: 'card' }, el('h2', { text: 'Pin' }), el('p', { className: 'muted', text: 'no pin' }));
  var card = releaseCard(view.unpin ? 'Pin (unpinned)' : 'Pin', view, now);
  card.appendChild(el('dl', { className: 'kv' },
    el('dt', { text: 'reason' }), el('dd', { text: view.reason === null ? '-' : view.reason }),
    el('dt', { text: 'hosts' }), el('dd', { className: 'mono', text: view.hosts === null ? 'every host' : view.hosts.join(', ') })));
  return card;
}

function rolloutSection(progress, now) {
  if (!progress) return null;
  var wrap = el('div', null, el('h2', { text: 'Rollout of sequence ' + progress.sequence }), el('div', { className: 'toolbar' }, bar(progress), el('span', { className: 'small muted', text: progressText(progress, now) })));
  if (progress.kind === 'invalid') return wrap;
  var body = el('tbody');
  progress.steps.forEach(function (s) {
    body.appendChild(el('tr', { data: { step: String(s.index + 1) } },
      el('td', { text: s.index + 1 }),
      el('td', { text: s.fromPercent + '% - ' + s.percent + '%' }),
      el('td', { text: s.dueAt === null ? '-' : clock(s.dueAt) + ' (' + (s.due ? 'due' : relative(s.dueAt, now)) + ')' }),
      el('td', { text: s.spreadMs ? duration(s.spreadMs) : '-' }),
      el('td', { text: s.hosts }), el('td', { text: s.done }), el('td', { text: s.failed }), el('td', { text: s.waiting }), el('td', { text: s.halted })));
  });
  wrap.appendChild(el('div', { className: 'card' }, el('table', { className: 'steps' },
    el('thead', null, el('tr', null, ['step', 'cohort', 'due', 'spread', 'hosts', 'on release', 'failed', 'waiting', 'halted'].map(function (h) { return el('th', { scope: 'col', text: h }); }))),
    body)));
  var notes = [];
  if (progress.outside > 0) notes.push(progress.outside + ' reporting host' + (progress.outside === 1 ? ' is' : 's are') + ' outside the rollout');
  if (progress.events) notes.push('events of this sequence: ' + (progress.events.length === 0 ? 'none yet' : progress.events.map(function (e) { return e[0] + ' ' + e[1]; }).join(', ')));
  if (progress.eventsError !== null) notes.push('events/ could not be listed: ' + progress.eventsError);
  if (notes.length) wrap.appendChild(el('p', { className: 'small muted', text: notes.join(' \u00b7 ') }));
  return wrap;
}

function historySection(data, now) {
  var wrap = el('div', null, el('h2', { text: 'History (newest ' + data.history.length + ' of ' + data.historyCount + ')' }));
  if (data.approvalsError !== null) wrap.appendChild(el('p', { className: 'warn', text: 'approvals/ could not be listed: ' + data.approvalsError }));
  if (data.historyError !== null) { wrap.appendChild(el('p', { className: 'warn', data: { historyError: '1' }, text: 'history/ could not be listed: ' + data.historyError })); return wrap; }
  if (data.history.length === 0) { wrap.appendChild(el('p', { className: 'muted', text: 'history/ holds nothing for this app and env.' })); return wrap; }
  var body = el('tbody');
  data.history.forEach(function (h) {
    body.appendChild(el('tr', { className: h.current ? 'current' : '', data: { sequence: String(h.sequence) } },
      el('td', { className: 'mono', text: h.sequence }),
      el('td', { text: h.kind + (h.current ? ' (current)' : '') }),
      el('td', { className: 'mono', text: h.version === null ? '-' : h.version }),
      el('td', { className: 'mono', text: h.sha12 === null ? '-' : h.sha12 }),
      el('td', { className: 'small', text: clock(h.issuedAt) }),
      el('td', { className: 'small' }, h.signers.length === 0 ? '-' : h.signers.map(function (s, i) {
        return [i ? ', ' : '', el('span', { className: 'trust-' + s.status, data: { signer: s.status } }, s.name + (s.status === 'verified' ? '' : ' (' + s.status + ')'))];
      }), h.approvals.map(function (a) {
        return el('div', { className: 'trust-' + a.status, data: { approval: a.status } }, 'approved by ' + a.name + (a.at === null ? '' : ' at ' + clock(a.at)) + (a.status === 'verified' ? '' : ' (' + a.status + ')'));
      })),
      el('td', { className: 'small', text: h.rollout === null ? (h.reason === null ? '' : 'reason: ' + h.reason) : h.rollout }),
      el('td', { className: 'small' }, h.notes.map(function (n) { return el('div', { text: n[0] + ': ' + n[1] }); }), h.error !== null ? el('div', { className: 'warn', text: h.error }) : null)));
  });
  wrap.appendChild(el('div', { className: 'card' }, el('table', { className: 'history' },
    el('thead', null, el('tr', null, ['sequence', 'kind', 'version', 'artifact', 'issued', 'signed by', 'rollout / reason', 'notes'].map(function (t) { return el('th', { scope: 'col', text: t }); }))),
    body)));
  return wrap;
}

window.addEventListener('hashchange', function () {
  var route = parseRoute();
  if (current.data && current.path === route.path) render();
  else load();
});

var live = new EventSource('/api/live');
live.addEventListener('refresh', function () { load(); });
live.addEventListener('error', function () { setStatus('lost the connection to hoist dashboard; retrying', true); });
live.addEventListener('open', function () { load(); });
load();
})();
`;
