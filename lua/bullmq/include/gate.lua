-- gate: may jobs of a queue be handed out / should the "0" marker be set?
--@include core

-- The meta fields a worker script needs, read once per script call and queue:
-- [1] paused, [2] concurrency, [3] max, [4] duration, [5] opts.maxLenEvents,
-- [6] version. No worker script changes them, and eventsCap keeps the cached
-- cap in step with what it writes.
local metaSnapshot = {}
local function readMeta(metaKey)
  local m = metaSnapshot[metaKey]
  if not m then
    m = rcall("HMGET", metaKey, "paused", "concurrency", "max", "duration", "opts.maxLenEvents",
      "version")
    metaSnapshot[metaKey] = m
  end
  return m
end

-- Does meta.version say BullMQ 6 or later ("bullmq:<major>...", major >=
-- 6)? "bullmq:5.x", other libraries' strings and no version (Node before
-- 5.21, skipMetasUpdate) all answer false: such a queue gets the 5.x rules
-- (docs/bullmq.md §9.2, §9.3). The field is only a hint: Node Queues write it
-- when they start, so a mixed fleet shows whichever started last.
local function isV6Queue(metaKey)
  local major = string.match(readMeta(metaKey)[6] or "", "^bullmq:(%d+)")
  return major ~= nil and tonumber(major) >= 6
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
