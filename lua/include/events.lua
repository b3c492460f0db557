-- events: the events stream cap (meta "opts.maxLenEvents", default 10000).
--@include core
--@include gate

local function eventsCap(metaKey)
  local m = readMeta(metaKey)
  local cap = m[5]
  if not cap then
    cap = 10000
    rcall("HSET", metaKey, "opts.maxLenEvents", cap)
    m[5] = cap
  end
  return cap
end

-- Approximate trim done before a script emits its own (uncapped) events.
local function trimEventsStream(metaKey, eventsKey)
  rcall("XTRIM", eventsKey, "MAXLEN", "~", eventsCap(metaKey))
end
