// Admission plug-ins the API server always runs (upstream's defaults that need no other
// component): DefaultTolerationSeconds, and the pod-defaulting half of the ServiceAccount plug-in.
#pragma once

#include <memory>

#include "mini8s/server/admission.h"
#include "mini8s/server/service_account_token.h"

namespace mini8s::server {

// Pods get NoExecute tolerations for node.kubernetes.io/not-ready and
// node.kubernetes.io/unreachable with tolerationSeconds 300 unless they tolerate them already,
// so the node lifecycle controller evicts them five minutes after their node is lost.
std::shared_ptr<AdmissionPlugin> NewDefaultTolerationSeconds(int64_t not_ready_seconds = 300,
                                                             int64_t unreachable_seconds = 300);

// Pods without spec.serviceAccountName run as "default" (spec.serviceAccount mirrors it, as the
// deprecated field upstream still fills). With `service_accounts` (the token half of upstream's
// ServiceAccount plug-in), every container and init container also gets the projected
// kube-api-access-<5 random> volume (token, ca.crt, namespace) read-only at
// /var/run/secrets/kubernetes.io/serviceaccount, unless automountServiceAccountToken is false on
// the pod or, when the pod leaves it unset, on its service account.
std::shared_ptr<AdmissionPlugin> NewServiceAccountDefaults(ObjectGetter service_accounts = {});

}  // namespace mini8s::server
