-- Sets snapshot.milvus.io/trigger to a new value: the operator starts one run and records the value in
-- status.lastTrigger, so the same value never runs twice. The safe os library is only there through require.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["snapshot.milvus.io/trigger"] = "argocd-" .. os.date("!%Y%m%d%H%M%S")
return obj
