#!/usr/bin/env node
// t/lib/browser-demo.js: a person's visit to the demo device, in headless
// Chromium, for t/4005-demo-browser.t.
//
//   BROWSER_DEMO_PASSWORD=... node t/lib/browser-demo.js --url URL \
//       --user USER --spki BASE64 --dir DIR [--chromium PATH] [--step SECONDS]
//
// Starts Chromium with --remote-debugging-pipe and speaks the DevTools
// protocol (CDP) to it on fds 3 and 4 itself: Node's standard library only,
// no npm package and no browser download.  In a fresh browser context it
// opens URL (a device page behind the portal), expects the portal's login
// form, types USER and the password into it and clicks "Log in", waits
// until the browser is back on URL showing the device's page, takes a
// screenshot (DIR/device.png), then opens URL again in a second tab of the
// same context, which must get the page without logging in again.
//
// Prints what it saw on stdout as KEY=VALUE lines, one a line, for the test
// to check (a "chain" is the documents the tab received, "STATUS URL" joined
// by " | ", redirects included, one-use tokens shown as "token=..."); says
// what it does on stderr.  Exits 0 when every step got as far as it could be
// checked, 1 with error=... on stdout when a step failed or timed out, 2 on
// bad usage.  Every wait is bounded (--step seconds, default 20; the whole
// run at most 8 steps' worth); Chromium, started in a process group of its
// own whose id is in DIR/chromium.pid, is closed or killed on every way out,
// SIGTERM and SIGINT included.
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const TEXT = 'Hello from the demo device';

function usage(msg) {
	process.stderr.write(`browser-demo.js: ${msg}\n`);
	process.exit(2);
}

const opt = { chromium: '/usr/bin/chromium', step: '20' };
for (let i = 2; i < process.argv.length; i += 2) {
	const k = process.argv[i];
	const v = process.argv[i + 1];
	if (!k.startsWith('--') || v === undefined)
		usage(`bad argument ${k}`);
	opt[k.slice(2)] = v;
}
for (const k of ['url', 'user', 'spki', 'dir'])
	if (!opt[k])
		usage(`--${k} is missing`);
const password = process.env.BROWSER_DEMO_PASSWORD;
if (!password)
	usage('BROWSER_DEMO_PASSWORD is not set');
const STEP_MS = Number(opt.step) * 1000;
if (!(STEP_MS > 0))
	usage(`bad --step ${opt.step}`);

function say(msg) {
	process.stderr.write(`browser-demo: ${msg}\n`);
}

function out(key, value) {
	const v = String(value).replace(/[\r\n]+/g, ' ').replace(/\s+$/, '');
	process.stdout.write(`${key}=${v}\n`);
}

function shown(url) {
	return url.replace(/([?&]token=)[^&#]*/g, '$1...');
}

// --- Chromium ------------------------------------------------------------

fs.mkdirSync(opt.dir, { recursive: true });
const profile = path.join(opt.dir, 'profile');
fs.rmSync(profile, { recursive: true, force: true });
const log = fs.openSync(path.join(opt.dir, 'chromium.log'), 'w');

// The flags that work on this kind of machine (closed network, root, no
// display, no GPU), a throwaway profile, and the one key we trust: see
// t/4005-demo-browser.t on --ignore-certificate-errors-spki-list.
const args = [
	'--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
	'--no-first-run', '--no-default-browser-check',
	'--disable-background-networking', '--disable-component-update',
	'--disable-sync', '--disable-extensions', '--password-store=basic',
	`--user-data-dir=${profile}`,
	`--ignore-certificate-errors-spki-list=${opt.spki}`,
	'--window-size=1024,640',
	'--remote-debugging-pipe',
	'about:blank',
];
say(`starting ${opt.chromium}`);
const chrome = spawn(opt.chromium, args, {
	stdio: ['ignore', log, log, 'pipe', 'pipe'],
	detached: true,		// its own process group: all of it can be killed
});
fs.writeFileSync(path.join(opt.dir, 'chromium.pid'), `${chrome.pid}\n`);
let chromeGone = false;
const chromeExit = new Promise((resolve) => {
	chrome.on('exit', (code, sig) => {
		chromeGone = true;
		resolve(sig || code);
	});
});
chrome.on('error', (e) => fail(`cannot start ${opt.chromium}: ${e.message}`));

function killChrome() {
	if (chromeGone)
		return;
	try {
		process.kill(-chrome.pid, 'SIGKILL');
	} catch (e) {
		// gone already
	}
}
process.on('exit', killChrome);
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'])
	process.on(sig, () => {
		say(`${sig}: stopping`);
		killChrome();
		process.exit(1);
	});

let failed = false;
function fail(msg) {
	if (failed)
		return;
	failed = true;
	out('error', msg);
	say(`FAILED: ${msg}`);
	killChrome();
	process.exit(1);
}

// Everything, Chromium's start included, in at most 8 steps' time.
setTimeout(() => fail(`the whole run took more than ${8 * STEP_MS / 1000} s`),
    8 * STEP_MS).unref();

// --- The DevTools protocol on the pipe: JSON messages, each ended by NUL ---

const toChrome = chrome.stdio[3];
const fromChrome = chrome.stdio[4];
let nextId = 1;
const waiting = new Map();	// id -> { resolve, reject, method }
const listeners = new Set();	// (message) => void, for events
let inbuf = Buffer.alloc(0);

fromChrome.on('data', (chunk) => {
	inbuf = Buffer.concat([inbuf, chunk]);
	let end;
	while ((end = inbuf.indexOf(0)) >= 0) {
		const msg = JSON.parse(inbuf.subarray(0, end).toString('utf8'));
		inbuf = inbuf.subarray(end + 1);
		if (msg.id !== undefined) {
			const w = waiting.get(msg.id);
			if (!w)
				continue;
			waiting.delete(msg.id);
			if (msg.error)
				w.reject(new Error(`${w.method}: ${msg.error.message}`));
			else
				w.resolve(msg.result);
		} else {
			for (const l of listeners)
				l(msg);
		}
	}
});
fromChrome.on('close', () => {
	for (const w of waiting.values())
		w.reject(new Error(`${w.method}: Chromium closed the pipe`));
	waiting.clear();
});
toChrome.on('error', () => { /* reported by the pending calls */ });

function send(method, params = {}, sessionId = undefined) {
	const id = nextId++;
	const msg = { id, method, params };
	if (sessionId)
		msg.sessionId = sessionId;
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			waiting.delete(id);
			reject(new Error(`${method}: no answer in ${STEP_MS / 1000} s`));
		}, STEP_MS);
		waiting.set(id, {
			method,
			resolve: (r) => { clearTimeout(timer); resolve(r); },
			reject: (e) => { clearTimeout(timer); reject(e); },
		});
		toChrome.write(JSON.stringify(msg) + '\0');
	});
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- A tab ---------------------------------------------------------------

class Tab {
	static async open(contextId) {
		const { targetId } = await send('Target.createTarget',
		    { url: 'about:blank', browserContextId: contextId });
		const { sessionId } = await send('Target.attachToTarget',
		    { targetId, flatten: true });
		const tab = new Tab(sessionId);
		await tab.call('Page.enable');
		await tab.call('Network.enable');
		return tab;
	}

	constructor(sessionId) {
		this.sessionId = sessionId;
		this.chain = [];	// "STATUS URL" of each document received
		listeners.add((m) => {
			if (m.sessionId !== this.sessionId)
				return;
			const p = m.params;
			if (m.method === 'Network.requestWillBeSent' &&
			    p.type === 'Document' && p.redirectResponse)
				this.chain.push(`${p.redirectResponse.status} ` +
				    shown(p.redirectResponse.url));
			else if (m.method === 'Network.responseReceived' &&
			    p.type === 'Document')
				this.chain.push(`${p.response.status} ` +
				    shown(p.response.url));
			else if (m.method === 'Network.loadingFailed' &&
			    p.type === 'Document')
				this.chain.push(`FAILED ${p.errorText}`);
		});
	}

	call(method, params = {}) {
		return send(method, params, this.sessionId);
	}

	async navigate(url) {
		say(`open ${url}`);
		const r = await this.call('Page.navigate', { url });
		if (r.errorText)
			throw new Error(`${url}: ${r.errorText}`);
	}

	async eval(expression) {
		const r = await this.call('Runtime.evaluate',
		    { expression, returnByValue: true });
		if (r.exceptionDetails)
			throw new Error(`${expression}: ${r.exceptionDetails.text}`);
		return r.result.value;
	}

	// What the page shows now; null while there is no document to ask
	// (between two navigations).
	async state() {
		try {
			return await this.eval(`({
			    url: location.href,
			    ready: document.readyState,
			    title: document.title,
			    text: document.body ? document.body.innerText : '',
			    login: !!document.querySelector(
				'form input[name=user]') && !!document.querySelector(
				'form input[name=password]'),
			})`);
		} catch (e) {
			return null;
		}
	}

	// Polls until a loaded page satisfies pred, for at most one step.
	async until(what, pred) {
		const end = Date.now() + STEP_MS;
		let st = null;
		while (Date.now() < end) {
			st = await this.state();
			if (st && st.ready === 'complete' && pred(st)) {
				say(`${what}: ${shown(st.url)} "${st.title}"`);
				return st;
			}
			await sleep(100);
		}
		throw new Error(`not ${what} within ${STEP_MS / 1000} s; ` +
		    (st ? `at ${shown(st.url)} "${st.title}": ` +
		    st.text.slice(0, 200) : 'no page') +
		    ` (documents: ${this.chain.join(' | ') || 'none'})`);
	}

	// Types text into the field, as a keyboard would (focus, then input).
	async type(selector, text) {
		const found = await this.eval(`(() => {
		    const e = document.querySelector(${JSON.stringify(selector)});
		    if (!e) return false;
		    e.focus();
		    return document.activeElement === e;
		})()`);
		if (!found)
			throw new Error(`no field ${selector} to type into`);
		await this.call('Input.insertText', { text });
	}

	// A left click in the middle of the element, as a mouse would.
	async click(selector) {
		const at = await this.eval(`(() => {
		    const e = document.querySelector(${JSON.stringify(selector)});
		    if (!e) return null;
		    e.scrollIntoView({ block: 'center' });
		    const r = e.getBoundingClientRect();
		    return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
		})()`);
		if (!at)
			throw new Error(`nothing to click at ${selector}`);
		const ev = { x: at.x, y: at.y, button: 'left', clickCount: 1 };
		await this.call('Input.dispatchMouseEvent',
		    { type: 'mouseMoved', x: at.x, y: at.y });
		await this.call('Input.dispatchMouseEvent',
		    { ...ev, type: 'mousePressed' });
		await this.call('Input.dispatchMouseEvent',
		    { ...ev, type: 'mouseReleased' });
	}

	async screenshot(file) {
		const { data } = await this.call('Page.captureScreenshot',
		    { format: 'png' });
		fs.writeFileSync(file, Buffer.from(data, 'base64'));
	}
}

// --- The visit -------------------------------------------------------------

async function main() {
	const { product } = await send('Browser.getVersion');
	out('browser', product);
	say(`connected to ${product}`);

	// A fresh context, as a new incognito window: no cookies yet.
	const { browserContextId } = await send('Target.createBrowserContext');

	// 1. The device page without a session: the portal's login form.
	const tab = await Tab.open(browserContextId);
	await tab.navigate(opt.url);
	let st = await tab.until('on the login form', (s) => s.login);
	out('login_url', shown(st.url));
	out('login_title', st.title);
	out('login_chain', tab.chain.join(' | '));

	// 2. Log in as a person would: type, click.
	tab.chain = [];
	await tab.type('form input[name=user]', opt.user);
	await tab.type('form input[name=password]', password);
	say(`log in as ${opt.user}`);
	await tab.click('form button[type=submit]');
	st = await tab.until('back on the device page',
	    (s) => !s.login && s.url === opt.url && s.text.includes(TEXT));
	out('device_url', st.url);
	out('device_title', st.title);
	out('device_text', st.text.slice(0, 300));
	out('device_chain', tab.chain.join(' | '));

	const png = path.join(opt.dir, 'device.png');
	await tab.screenshot(png);
	out('screenshot', png);
	say(`screenshot in ${png}`);

	// 3. Again, in a new tab of the same context: no login this time.
	const tab2 = await Tab.open(browserContextId);
	await tab2.navigate(opt.url);
	st = await tab2.until('on the device page again',
	    (s) => s.url === opt.url && s.text.includes(TEXT) || s.login);
	out('again_url', st.url);
	out('again_login_form', st.login ? 'yes' : 'no');
	out('again_text', st.text.slice(0, 300));
	out('again_chain', tab2.chain.join(' | '));

	// 4. Close the browser: politely, then by force.
	say('closing Chromium');
	await send('Browser.close').catch(() => {});
	const how = await Promise.race([chromeExit, sleep(5000).then(() => null)]);
	if (how === null) {
		say('Chromium did not exit within 5 s of Browser.close: killing it');
		killChrome();
	}
	out('closed', 'yes');
}

main().then(() => process.exit(0), (e) => fail(e.message));
