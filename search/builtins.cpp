// Every built-in policy, one registration line each; each register_* function lives with its
// policy and declares its options (core/registry.hpp). A new policy is one file plus one line
// here (docs/development.md).
#include "search/policy.hpp"

namespace flexnas {

void register_classic_policies(PolicyRegistry& r);     // random, evolution, nsga2: policies.cpp
void register_boshnas_policy(PolicyRegistry& r);       // search/boshnas_policy.cpp
void register_sa_nsga2_policy(PolicyRegistry& r);      // search/sa_nsga2_policy.cpp
void register_hierarchical_policy(PolicyRegistry& r);  // search/hierarchical_policy.cpp

void register_builtin_policies(PolicyRegistry& r) {
  register_classic_policies(r);
  register_boshnas_policy(r);
  register_sa_nsga2_policy(r);
  register_hierarchical_policy(r);
}

}  // namespace flexnas
