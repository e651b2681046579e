// The dispatch dashboard in a real browser (Debian's chromium, headless,
// driven by playwright-core): five ringvisor-dispatch nodes on loopback;
// every card's lease, timer and link; create a hero in the page, watch it
// win, see the ring drawn as the node has it, the hero's dot over its node's
// arc and its fights charted; pause and resume it, move it to another node
// and back, each listed under the operator actions; stop its node from the page (listed too) and see the hero
// listed on another node with its record, its dot ripple and the move
// charted; check what the cards show; kill -9 its new node and see it come
// back from a snapshot at most one interval old; hang the next (SIGSTOP),
// see its card say so and the hero come back elsewhere, never "gone"; take
// a screenshot.
//
// Usage: node dashboard.test.cjs <ringvisor-dispatch> <output folder>
"use strict";
const { spawn } = require("node:child_process");
const path = require("node:path");
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");

const [bin, outDir] = process.argv.slice(2);
const token = "browser-test-token";
const nodes = {}; // name -> { proc, endpoint, dashboard, lines }

function fail(why) {
  console.error(`FAIL: ${why}`);
  for (const [name, n] of Object.entries(nodes))
    console.error(`--- last output of ${name}:\n${n.lines.slice(-15).join("\n")}`);
  process.exitCode = 1;
  throw new Error(why);
}

const started = Date.now();
// Seconds since the test began, before each line it prints: a slow step shows.
const elapsed = () => `[${((Date.now() - started) / 1000).toFixed(1)} s]`;

function check(cond, why) {
  if (!cond) fail(why);
  console.log(`${elapsed()} ok: ${why}`);
}

// Starts a node and resolves once it printed its endpoint and dashboard.
function startNode(name, seeds) {
  const args = [`--ringvisor.name=${name}`, "--ringvisor.port=0", `--dispatch.token=${token}`,
                "--dispatch.tick=100ms", "--dispatch.max-health=1000000000"];
  if (seeds.length) args.push(`--ringvisor.seeds=[${seeds.map((s) => `"${s}"`).join(",")}]`);
  const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  const n = { proc, lines: [], exit: null };
  nodes[name] = n;
  n.exited = new Promise((resolve) => proc.on("exit", (code, signal) => {
    n.exit = code ?? signal;
    resolve(n.exit);
  }));
  return new Promise((resolve, reject) => {
    let buf = "";
    const onData = (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        n.lines.push(line);
        if (line.startsWith("listening ")) n.endpoint = line.slice(10);
        if (line.startsWith("dashboard ")) {
          n.dashboard = line.slice(10).split("?")[0];
          resolve(n);
        }
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", (c) => n.lines.push(...String(c).trimEnd().split("\n")));
    proc.on("exit", () => reject(new Error(`node ${name} exited before it served`)));
  });
}

async function state(name) {
  const res = await fetch(`${nodes[name].dashboard}api/state`);
  return res.json();
}

async function until(what, fn, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  fail(`${what} (last seen: ${JSON.stringify(last)})`);
}

function stopAll() {
  for (const n of Object.values(nodes))
    if (n.exit === null) n.proc.kill("SIGKILL");
}
process.on("exit", stopAll);

async function main() {
  const a = await startNode("a", []);
  await startNode("b", [a.endpoint]);
  await startNode("c", [a.endpoint]);
  await startNode("d", [a.endpoint]);
  await startNode("e", [a.endpoint]);
  await until("five members up", async () => {
    const s = await state("a");
    return s.status === "up" && s.members.filter((m) => m.status === "up").length === 5;
  });
  console.log(`${elapsed()} five members up`);

  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
           "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
  console.log(`${elapsed()} chromium started`);
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("dialog", (d) => d.accept()); // "Stop node b?"
    await page.goto(`${a.dashboard}?token=${token}`);
    await page.waitForSelector("[data-node=c]");
    check(!page.url().includes(token), "the page keeps the token out of the address bar");
    // Each node's lease and timer, and its link as this node sees it.
    await until("every card gives its node's lease, timer and link", async () => {
      for (const n of ["a", "b", "c", "d", "e"]) {
        const text = await page.locator(`[data-health=${n}]`).textContent();
        if (!/^lease held, \d+\.\d s ahead · timer \+\d+ ms · /.test(text)) return null;
        if (n === "a" ? !text.endsWith("this node") : !/link up, heard \d+ ms ago$/.test(text)) return null;
      }
      return true;
    });

    await page.fill("#hero-name", "Storm");
    await page.click("#create-button");
    const row = page.locator("tr[data-hero=storm]");
    await row.waitFor({ timeout: 10000 });
    check(await row.locator(".name").textContent() === "Storm", "the hero created in the page is listed");

    const read = async () => ({
      node: (await row.locator(".node").textContent()).trim(),
      wins: Number(await row.locator(".wins").textContent()),
      losses: Number(await row.locator(".losses").textContent()),
      moves: Number(await row.locator(".moves").textContent()),
    });
    const before = await until("the hero wins fights", async () => {
      const r = await read();
      return r.wins >= 3 ? r : null;
    });
    console.log(`before: ${JSON.stringify(before)}`);

    // The ring: each node's slices as arcs, its share inside, the hero as a
    // dot at its point, in the colour of its node, on an arc of that node.
    const ring = await (await fetch(`${a.dashboard}api/ring`)).json();
    const drawn = await page.$$eval("#ring-arcs path", (xs) => xs.map((x) =>
      ({ owner: x.dataset.owner, slices: Number(x.dataset.slices) })));
    const slicesOf = {};
    for (const arc of drawn) slicesOf[arc.owner] = (slicesOf[arc.owner] || 0) + arc.slices;
    check(drawn.reduce((n, arc) => n + arc.slices, 0) === ring.slices.length,
          `the arcs cover the ring's ${ring.slices.length} slices`);
    ring.members.forEach((m, i) => {
      const drawnShare = slicesOf[m] / ring.slices.length;
      check(Math.abs(drawnShare - ring.shares[i]) < 0.02,
            `node ${m}'s arcs cover its share (${drawnShare.toFixed(3)} of ${ring.shares[i].toFixed(3)})`);
    });
    const legend = await page.locator("#ring-legend").textContent();
    ring.members.forEach((m, i) =>
      check(legend.includes(`${m} ${(ring.shares[i] * 100).toFixed(1)}%`), `the legend gives ${m}'s share`));
    const storm = (await state("a")).heroes.find((h) => h.id === "storm");
    const owner = ring.members[ring.slices[Math.floor(storm.ring_point * ring.slices.length)]];
    check(owner === storm.node, `the hero runs on the node whose arc is under its point (${owner})`);
    const fillOf = (selector) => page.$eval(selector, (x) => getComputedStyle(x).fill);
    const chipOf = () => row.locator(".node").evaluate((x) => getComputedStyle(x).backgroundColor);
    check(await fillOf("[data-dot=storm]") === await chipOf(), "the hero's dot has its node's colour");
    const fights = await until("the page charts the hero's fights", async () =>
      Number(await page.locator("[data-chart=fights] .now").textContent()) > 0
        ? await page.locator("[data-chart=fights] .now").textContent() : null);
    console.log(`fights per second: ${fights}`);

    // Pause the hero from the page: it stops fighting until resumed; both
    // changes are listed under the operator actions.
    await page.click("[data-testid=pause-storm]");
    const paused = await until("the page shows the hero paused", async () =>
      (await row.locator(".doing").textContent()) === "paused" ? read() : null);
    const pausedAt = Date.now();
    await until("a second passes", async () => Date.now() - pausedAt > 1000);
    const still = await read();
    check(still.wins === paused.wins && still.losses === paused.losses,
          `a paused hero does not fight (${paused.wins} won, ${paused.losses} lost)`);
    await page.click("[data-testid=resume-storm]");
    await until("the hero fights again", async () => {
      const r = await read();
      return r.wins + r.losses > still.wins + still.losses;
    });
    await until("the operator actions list the pause and the resume", async () => {
      const text = await page.locator("#audit").textContent();
      return text.includes("pause storm through a from 127.0.0.1: ok")
        && text.includes("resume storm through a from 127.0.0.1: ok");
    });

    // Move the hero to another node from the page: it runs there, pinned,
    // with its record; then back to the owner of its point on the ring.
    const away = ["b", "c", "d", "e"].find((n) => n !== before.node);
    const ahead = await read();
    await page.selectOption(`[data-testid=move-storm]`, away);
    const moved = await until(`the hero runs on ${away}, pinned`, async () => {
      const r = await read();
      return r.node === away && (await row.getAttribute("data-pin")) === away ? r : null;
    });
    check(moved.wins >= ahead.wins && moved.moves === ahead.moves + 1,
          `the hero moved to ${away} with its record (${ahead.wins} -> ${moved.wins} won)`);
    check((await row.locator(".pin").textContent()) === `pinned to ${away}`, "the row says where it is pinned");
    await page.selectOption(`[data-testid=move-storm]`, "-");
    const home = await until("the hero runs on its ring owner again", async () => {
      const r = await read();
      return r.node === before.node && (await row.getAttribute("data-pin")) === "" ? r : null;
    });
    check(home.moves === ahead.moves + 2, `the hero came back to ${before.node}, not pinned`);
    await until("the operator actions list both moves", async () => {
      const text = await page.locator("#audit").textContent();
      return text.includes(`move storm to ${away} through a from 127.0.0.1: ok`)
        && text.includes("move storm to its ring owner through a from 127.0.0.1: ok");
    });
    await until("the moves' ripples are over", async () =>
      (await page.locator("[data-ripple=storm]").count()) === 0);

    // Stop the hero's node from the dashboard of a third node, reached by its
    // link on this page (the link carries the token to the other page).
    const third = ["a", "b", "c", "d", "e"].find((n) => n !== "a" && n !== before.node);
    await page.click(`[data-testid=open-${third}]`);
    await page.waitForFunction((n) => document.getElementById("self").textContent === n, third);
    await row.waitFor();
    check(!page.url().includes(token), `node ${third}'s page took the token from the link`);
    const rippled = page.waitForSelector("[data-ripple=storm]", { state: "attached", timeout: 30000 });
    await page.click(`[data-testid=stop-${before.node}]`);
    check(await nodes[before.node].exited === 0, `node ${before.node} stopped in order`);

    await until("the operator actions list the stop", async () =>
      (await page.locator("#audit").textContent()).includes(
        `stop ${before.node} through ${third} from 127.0.0.1: ok`));
    const after = await until("the hero listed on another node", async () => {
      const r = await read();
      return r.node !== before.node ? r : null;
    });
    console.log(`after: ${JSON.stringify(after)}`);
    check(after.wins >= before.wins, `the hero kept its wins (${before.wins} -> ${after.wins})`);
    check(after.losses >= before.losses, "the hero kept its losses");
    check(after.moves === home.moves + 1, "the page counts the move");
    check(await rippled.then(() => true, () => false), "the hero's dot shows the move with a ripple");
    await until("the dot takes its new node's colour", async () =>
      await fillOf("[data-dot=storm]") === await chipOf());
    const movesPeak = Number(await page.locator("[data-chart=moves]").getAttribute("data-peak"));
    check(movesPeak > 0, `the page charts the move (${movesPeak} per second at the peak)`);
    await until("the page shows the stopped node as removed", async () =>
      (await page.locator(`[data-node=${before.node}]`).count()) === 0);
    const log = await page.locator("#log").textContent();
    check(log.includes(`Storm moved ${before.node} → ${after.node}, record kept`),
          "the page tells of the move");

    // What the cards show: incarnations as the node has them (64 bits do not
    // fit JavaScript's numbers), each node's share of the ring, a colour each.
    const shown = await page.locator("#nodes").textContent();
    const listed = await state(await page.locator("#self").textContent());
    for (const m of listed.members.filter((x) => x.status === "up"))
      check(shown.includes(`incarnation ${m.incarnation}`), `node ${m.name}'s incarnation is exact`);
    check((shown.match(/% of the ring/g) || []).length === 4, "each card gives its node's share of the ring");
    const colours = await page.$$eval("#nodes .node", (xs) => xs.map((x) => x.style.getPropertyValue("--c")));
    check(new Set(colours).size === colours.length, `every node has its own colour (${colours})`);
    const icon = await page.evaluate(async () => (await fetch("/favicon.ico")).status);
    check(icon === 200, "the page has an icon");
    const fits = await page.$eval("#hero-name", (x) => {
      const ctx = document.createElement("canvas").getContext("2d");
      const style = getComputedStyle(x);
      ctx.font = style.font;
      const room = x.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return ctx.measureText(x.placeholder).width <= room;
    });
    check(fits, "the name field shows its whole placeholder");

    const goTo = async (name) => {
      await page.click(`[data-testid=open-${name}]`);
      await page.waitForFunction((n) => document.getElementById("self").textContent === n, name);
      await row.waitFor();
    };
    const live = () => Object.keys(nodes).filter((n) => nodes[n].exit === null);
    const here = after;

    // kill -9 of the hero's node: it comes back from its last snapshot
    // (heroes snapshot every second), watched from a node that survives.
    const watcher = live().find((n) => n !== here.node);
    if (await page.locator("#self").textContent() === here.node)
      await goTo(watcher);
    const settled = await read();
    const readAt = Date.now();
    // One snapshot interval and some: the last snapshot before the kill
    // holds at least what the page showed then.
    await until("a snapshot interval passes", async () => Date.now() - readAt > 1500);
    nodes[here.node].proc.kill("SIGKILL");
    await nodes[here.node].exited;
    const restored = await until("the hero listed on a surviving node", async () => {
      const r = await read();
      return r.node !== here.node ? r : null;
    });
    console.log(`settled: ${JSON.stringify(settled)}, restored: ${JSON.stringify(restored)}`);
    check(restored.wins >= settled.wins && restored.wins > 0,
          `the hero came back with its wins (${settled.wins} -> ${restored.wins})`);
    check(restored.losses >= settled.losses, "the hero came back with its losses");
    const told = await until("the page tells of the restore", async () => {
      const text = await page.locator("#log").textContent();
      const m = text.match(new RegExp(`Storm moved ${here.node} → ${restored.node}, its node failed: restored from a snapshot ([0-9.]+) s old`));
      return m ? { age: Number(m[1]) } : null;
    });
    // One interval, plus the failover, on a busy machine.
    check(told.age < 5, `the page gives the snapshot's age (${told.age} s)`);

    // SIGSTOP of the hero's node: the hero is out of sight, then runs again
    // elsewhere from its last snapshot. The page never calls it gone.
    if (await page.locator("#self").textContent() === restored.node)
      await goTo(live().find((n) => n !== restored.node));
    const appeared = async () =>
      ((await page.locator("#log").textContent()).match(/Storm appeared/g) || []).length;
    const appearedBefore = await appeared();
    nodes[restored.node].proc.kill("SIGSTOP");
    const unhung = await until("the hero runs on another node after the hang", async () => {
      const r = await read();
      return r.node !== restored.node ? r : null;
    }, 30000);
    const hung = await page.locator(`[data-health=${restored.node}]`).textContent();
    check(/unreachable: silent \d+ ms, φ [\d.]+$|link down$/.test(hung) && !hung.startsWith("lease held"),
          `the hung node's card says it is cut off (${hung})`);
    nodes[restored.node].proc.kill("SIGCONT");
    await until("the page tells of the restore after the hang", async () =>
      (await page.locator("#log").textContent()).includes(
        `Storm moved ${restored.node} → ${unhung.node}, its node failed: restored from a snapshot`));
    const hangLog = await page.locator("#log").textContent();
    check(!hangLog.includes("Storm is gone"), "the page never calls a hung node's hero gone");
    check(await appeared() === appearedBefore, "nor has the hero appear anew");

    // Every member keeps the operator actions: the stop is still listed
    // after nodes died, whichever took it.
    const audit = await page.locator("#audit").textContent();
    check(audit.includes(`stop ${before.node} through ${third} from 127.0.0.1: ok`)
            && audit.includes("pause storm through a from 127.0.0.1: ok"),
          "the operator actions outlive the nodes that took them");

    const shot = path.join(outDir, "dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
  } finally {
    await browser.close();
  }
  console.log(`${elapsed()} stopping the nodes (SIGTERM)`);
  for (const n of Object.values(nodes))
    if (n.exit === null) n.proc.kill("SIGTERM");
  await Promise.all(Object.entries(nodes).map(async ([name, n]) => {
    const how = await n.exited;
    console.log(`${elapsed()} node ${name} exited (${how})`);
  }));
}

// A guard against a hang, not a speed target (about 20 s on an idle machine):
// it names the nodes still running and kills them before ctest's 300 s would
// leave them behind.
const timer = setTimeout(() => {
  console.error(`${elapsed()} FAIL: the browser test took longer than 270 s`);
  for (const [name, n] of Object.entries(nodes))
    if (n.exit === null)
      console.error(`--- node ${name} is still running; its last output:\n${n.lines.slice(-25).join("\n")}`);
  stopAll();
  process.exit(1);
}, 270000);

main().then(
  () => { clearTimeout(timer); console.log("PASS"); },
  (e) => { clearTimeout(timer); console.error(e.stack || e); process.exitCode = 1; stopAll(); });
