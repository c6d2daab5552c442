-- "Run now": one run of the schedule at once (the operator's trigger annotation). Disabled while suspended,
-- when the operator ignores triggers.
local actions = {}
actions["run-now"] = {
  ["iconClass"] = "fa fa-fw fa-play",
  ["displayName"] = "Run now",
  ["disabled"] = obj.spec.suspend == true,
}
return actions
