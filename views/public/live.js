/* SiteFlow status page: live updates over server-sent events. No framework, no inline code
 * (the CSP forbids it); without JavaScript the pages still render and refresh themselves. */
(() => {
  const body = document.body;
  const mode = body.getAttribute('data-live');
  const conn = document.getElementById('conn');
  if (!mode || mode === 'audit' || mode === 'run-done' || !window.EventSource) return;
  let version = Number(body.getAttribute('data-version') || 0);

  function showConn(on, text) {
    if (!conn) return;
    conn.hidden = false;
    conn.className = `conn ${on ? 'on' : 'off'}`;
    conn.textContent = text;
  }

  function fragment(html) {
    const t = document.createElement('template');
    t.innerHTML = html;
    return t.content.firstElementChild;
  }

  function replaceById(id, html) {
    const el = document.getElementById(id);
    const next = html ? fragment(html) : null;
    if (!el) return false;
    if (next) el.replaceWith(next);
    else el.remove();
    return true;
  }

  // Structural changes (a site added or removed): fetch the page again and swap <main>.
  let fetching = false;
  let again = false;
  function refetch() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    fetch(location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then((r) => {
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        return r.text();
      })
      .then((html) => {
        const doc = new DOMParser().parseFromString(html, 'text/html');
        const main = doc.getElementById('main');
        const mine = document.getElementById('main');
        if (main && mine) mine.replaceWith(document.importNode(main, true));
        version = Number(doc.body.getAttribute('data-version') || version);
      })
      .catch(() => {})
      .then(() => {
        fetching = false;
        if (again) {
          again = false;
          refetch();
        }
      });
  }

  function patchNode(n) {
    const el = document.getElementById(n.id);
    if (!el) return false;
    const cls = (el.getAttribute('class') || '').replace(/\bt-[a-z]+\b/, `t-${n.tone}`);
    el.setAttribute('class', cls);
    el.setAttribute('aria-label', n.aria);
    const title = el.querySelector('title');
    if (title) title.textContent = n.aria;
    const sub = el.querySelector('.ns');
    if (sub) sub.textContent = n.sub;
    return true;
  }

  if (mode === 'overview' || mode === 'graph') {
    const es = new EventSource('/api/events');
    es.onopen = () => {
      showConn(true, 'live');
    };
    es.onerror = () => {
      showConn(false, 'reconnecting…');
    };
    es.addEventListener('hello', (e) => {
      const d = JSON.parse(e.data);
      if (d.version !== version) refetch();
    });
    es.addEventListener('state', (e) => {
      const d = JSON.parse(e.data);
      let missing = d.structural;
      version = d.version;
      if (mode === 'overview') {
        for (let i = 0; i < d.sites.length; i++) {
          const s = d.sites[i];
          if (!replaceById(s.id, s.html) && s.html) missing = true;
        }
        if (d.summary) replaceById('summary', d.summary);
        if (d.alerts) replaceById('alerts', d.alerts);
      } else {
        for (let j = 0; j < d.nodes.length; j++) if (!patchNode(d.nodes[j])) missing = true;
      }
      if (missing) refetch();
    });
    es.addEventListener('ops', (e) => {
      if (mode !== 'overview') return;
      const d = JSON.parse(e.data);
      replaceById('ops', d.html);
    });
    return;
  }

  if (mode === 'run') {
    const facts = document.getElementById('run-facts');
    const out = document.getElementById('output');
    const statusEl = document.getElementById('run-status');
    const took = document.getElementById('run-duration');
    const id = facts?.getAttribute('data-run');
    if (!id || !out) return;
    let progress = {};
    const stream = new EventSource(`/api/events?run=${encodeURIComponent(id)}`);
    let stick = true;
    out.addEventListener('scroll', () => {
      stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 24;
    });
    function line(cls, text, key) {
      let span = key && progress[key];
      if (!span) {
        span = document.createElement('span');
        out.appendChild(span);
        out.appendChild(document.createTextNode('\n'));
        if (key) progress[key] = span;
      }
      span.className = `ln s-${cls}`;
      span.textContent = text;
      if (stick) out.scrollTop = out.scrollHeight;
    }
    stream.onopen = () => {
      showConn(true, 'live');
    };
    stream.onerror = () => {
      showConn(false, 'reconnecting…');
    };
    stream.addEventListener('reset', () => {
      out.textContent = '';
      progress = {};
    });
    stream.addEventListener('run', (e) => {
      const ev = JSON.parse(e.data);
      if (ev.type === 'line') line(ev.stream, ev.text);
      else if (ev.type === 'progress') line('progress', `${ev.key}: ${ev.text}`, ev.key);
      else if (ev.type === 'skipped') line('info', `… ${ev.lines} lines skipped …`);
      else if (ev.type === 'end') {
        if (statusEl) {
          statusEl.textContent = ev.status;
          const tone = ev.status === 'succeeded' ? 'good' : ev.status === 'cancelled' ? 'warn' : 'bad';
          statusEl.className = `badge t-${tone}`;
        }
        if (took) took.textContent = `${(ev.durationMs / 1000).toFixed(1)} s`;
      }
    });
    stream.addEventListener('done', () => {
      stream.close();
      showConn(true, 'finished');
    });
  }
})();
