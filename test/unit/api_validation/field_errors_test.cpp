#include "mini8s/api/field_errors.h"

#include <catch2/catch.hpp>

namespace mini8s::api {
namespace {

TEST_CASE("FieldErrors: each type renders like upstream's field.Error", "[api_validation][unit]") {
  FieldPath spec("spec");
  CHECK(Invalid(spec.Child("replicas"), BadValue::Int(-1), "must be greater than or equal to 0")
            .ToString() == "spec.replicas: Invalid value: -1: must be greater than or equal to 0");
  CHECK(Required(spec.Child("containers")).ToString() == "spec.containers: Required value");
  CHECK(Required(FieldPath("metadata").Child("name"), "name or generateName is required")
            .ToString() == "metadata.name: Required value: name or generateName is required");
  CHECK(NotSupported(spec.Child("restartPolicy"), BadValue::Str("Foo"),
                     {"Always", "OnFailure", "Never"})
            .ToString() ==
        "spec.restartPolicy: Unsupported value: \"Foo\": supported values: \"Always\", "
        "\"OnFailure\", \"Never\"");
  CHECK(Duplicate(spec.Child("containers").Index(1).Child("name"), BadValue::Str("c")).ToString() ==
        "spec.containers[1].name: Duplicate value: \"c\"");
  CHECK(NotFound(spec.Child("x"), BadValue::Str("v")).ToString() == "spec.x: Not found: \"v\"");
  CHECK(Forbidden(spec, "nope").ToString() == "spec: Forbidden: nope");
  CHECK(TooLong(FieldPath("metadata").Child("annotations"), 262144).ToString() ==
        "metadata.annotations: Too long: may not be more than 262144 bytes");
  CHECK(TooMany(spec.Child("items"), 4, 3).ToString() ==
        "spec.items: Too many: 4: must have at most 3 items");
  CHECK(Invalid(spec.Child("b"), BadValue::Bool(true), "x").ToString() ==
        "spec.b: Invalid value: true: x");
  CHECK(Invalid(spec.Child("d"), BadValue::Double(1.5), "x").ToString() ==
        "spec.d: Invalid value: 1.5: x");
  CHECK(FieldPath("metadata").Child("labels").Key("app").String() == "metadata.labels[app]");
}

TEST_CASE("FieldErrors: strings are quoted like Go's %q", "[api_validation][unit]") {
  CHECK(GoQuote("a\"b\\c\n\t") == "\"a\\\"b\\\\c\\n\\t\"");
  CHECK(GoQuote(std::string("\x01", 1)) == "\"\\x01\"");
  CHECK(GoFloat(1.5) == "1.5");
  CHECK(GoFloat(1e6) == "1e+06");
  CHECK(GoFloat(100000) == "100000");
  CHECK(GoFloat(0.0001) == "0.0001");
  CHECK(GoFloat(0.00001) == "1e-05");
}

TEST_CASE("FieldErrors: the Invalid status carries the aggregate message and every cause",
          "[api_validation][unit]") {
  ErrorList errs = {
      Invalid(FieldPath("spec").Child("replicas"), BadValue::Int(-1),
              "must be greater than or equal to 0"),
      Required(
          FieldPath("spec").Child("template", "spec").Child("containers").Index(0).Child("image")),
  };
  CHECK(InvalidMessage("apps", "Deployment", "x", errs) ==
        "Deployment.apps \"x\" is invalid: [spec.replicas: Invalid value: -1: must be greater "
        "than or equal to 0, spec.template.spec.containers[0].image: Required value]");
  CHECK(InvalidMessage("", "Pod", "p", {errs[1]}) ==
        "Pod \"p\" is invalid: spec.template.spec.containers[0].image: Required value");
  // Duplicates are dropped from the aggregate, as upstream's ToAggregate does.
  ErrorList dup = {errs[0], errs[0]};
  CHECK(AggregateMessage(dup) == errs[0].ToString());
  auto status = InvalidStatus("apps", "Deployment", "x", errs);
  CHECK(status.at("code").as_int64() == 422);
  CHECK(status.at("reason").as_string() == "Invalid");
  const auto& causes = status.at("details").at("causes").as_array();
  REQUIRE(causes.size() == 2);
  CHECK(causes[0].at("reason").as_string() == "FieldValueInvalid");
  CHECK(causes[0].at("message").as_string() ==
        "Invalid value: -1: must be greater than or equal to 0");
  CHECK(causes[0].at("field").as_string() == "spec.replicas");
  CHECK(causes[1].at("reason").as_string() == "FieldValueRequired");
  CHECK(causes[1].at("message").as_string() == "Required value");
  CHECK(status.at("details").at("kind").as_string() == "Deployment");
  CHECK(status.at("details").at("group").as_string() == "apps");
}

}  // namespace
}  // namespace mini8s::api
