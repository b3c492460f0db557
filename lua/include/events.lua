-- events: the events stream cap (meta "opts.maxLenEvents", default 10000).
--@include core

local function eventsCap(metaKey)
  local cap = rcall("HGET", metaKey, "opts.maxLenEvents")
  if not cap then
    cap = 10000
    rcall("HSET", metaKey, "opts.maxLenEvents", cap)
  end
  return cap
end

-- Approximate trim done before a script emits its own (uncapped) events.
local function trimEventsStream(metaKey, eventsKey)
  rcall("XTRIM", eventsKey, "MAXLEN", "~", eventsCap(metaKey))
end
