-- wrk script: seed-shaped heartbeats spread over BENCH_CONSOLES distinct console ids.
-- Ids are deterministic (bench.ids.console_id in Python makes the same ones), so the consoles can
-- be registered before the run. ultimaActividad is the current time, as a real console sends it.
-- BENCH_RATE paces the run (see pacing.lua). Prints a JSON summary line on stdout at the end.
package.path = (os.getenv("BENCH_WRK_DIR") or ".") .. "/?.lua;" .. package.path
local pacing = require("pacing")
local consoles = tonumber(os.getenv("BENCH_CONSOLES") or "100000")
local path_template = os.getenv("BENCH_PATH") or "/api/consolas/%s/heartbeat"
local states = { "ocupada", "esperando", "activa", "ocupada" }
-- BENCH_CHANGES=1: the state turns with every request of this thread (5 in 8 heartbeats change
-- their console's state); else console i always reports states[i % 4], the state bench/ids.py
-- registers it in (a running fleet's heartbeats).
local changes = os.getenv("BENCH_CHANGES") == "1"
local turn = 0

local function console_id(i)
  return string.format("%08x-0000-4000-8000-%012x", i, i)
end

local function body(i)
  local k = i
  if changes then
    turn = turn + 1
    k = i + turn
  end
  local estado = states[(k % #states) + 1]
  local video = "null"
  if estado == "ocupada" then video = string.format('"Video Historia %d (2/5)"', i % 97) end
  return string.format(
    '{"estado":"%s","sistema":{"hostname":"consola-%d","platform":"linux","arch":"x64",' ..
    '"cpus":8,"totalMemory":16,"freeMemory":8,"uptime":1440,"pythonVersion":"3.11.7"},' ..
    '"ultimaActividad":"%s","ultimoError":null,"videoEnProceso":%s,' ..
    '"intervaloSegundos":300}', estado, i, os.date("!%Y-%m-%dT%H:%M:%S.000Z"), video)
end

function init(args)
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
  pacing.init()
end

if pacing.paced() then
  function delay()
    return pacing.delay()
  end
end

function request()
  local i = math.random(0, consoles - 1)
  local path = string.format(path_template, console_id(i))
  return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body(i))
end

function done(summary, latency, requests)
  pacing.done(summary, latency)
end
