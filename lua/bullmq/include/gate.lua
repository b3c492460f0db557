-- gate: may jobs of a queue be handed out / should the "0" marker be set?
--@include core

-- The meta fields a worker script needs, read once per script call and queue:
-- no worker script changes paused/concurrency/max/duration, and eventsCap keeps
-- the cached cap in step with what it writes.
local metaSnapshot = {}
local function readMeta(metaKey)
  local m = metaSnapshot[metaKey]
  if not m then
    m = rcall("HMGET", metaKey, "paused", "concurrency", "max", "duration", "opts.maxLenEvents")
    metaSnapshot[metaKey] = m
  end
  return m
end

-- Returns { paused = bool, blocked = bool, max = str|nil, duration = str|nil }.
-- blocked = globally paused, or global concurrency reached.
local function readGate(metaKey, activeKey)
  local m = readMeta(metaKey)
  local gate = { paused = m[1] ~= false, blocked = false, max = m[3] or nil, duration = m[4] or nil }
  if gate.paused then
    gate.blocked = true
  elseif m[2] then
    gate.blocked = rcall("LLEN", activeKey) >= tonumber(m[2])
  end
  return gate
end
