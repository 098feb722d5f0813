// The XML extractor on the shapes STS and IAM answer with, and on the traps around them: tags
// that share a prefix, attributes, empty elements, entities and character references.
#include "broker/aws/xml.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace {

namespace aws = apono::broker::aws;

const std::string assume_role_response =
    R"(<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>DevUser123</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/John</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:John</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>AQoDYXdzEPT//////////wEXAMPLE&#x2B;a&amp;b</SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>)";

}  // namespace

TEST_CASE("elements are found by exact name, nested or not", "[xml]") {
  const auto user = aws::xml_element(assume_role_response, "AssumedRoleUser");
  REQUIRE(user);
  // `<Arn>` inside AssumedRoleUser, not the `AssumedRoleId` that starts like it elsewhere.
  CHECK(aws::xml_text(*user, "Arn") == "arn:aws:sts::123456789012:assumed-role/demo/John");
  CHECK(aws::xml_text(*user, "AssumedRoleId") == "ARO123EXAMPLE123:John");
  CHECK(aws::xml_text(assume_role_response, "AccessKeyId") == "ASIAIOSFODNN7EXAMPLE");
  CHECK(aws::xml_text(assume_role_response, "SessionToken") == "AQoDYXdzEPT//////////wEXAMPLE+a&b");
  CHECK(aws::xml_text(assume_role_response, "Expiration") == "2019-11-09T13:34:41Z");
  CHECK_FALSE(aws::xml_element(assume_role_response, "Missing"));
  // A prefix of a tag name is not that tag.
  CHECK_FALSE(aws::xml_element(assume_role_response, "Assumed"));
  CHECK_FALSE(aws::xml_element(assume_role_response, "Arn "));
}

TEST_CASE("attributes, empty elements and unclosed ones", "[xml]") {
  CHECK(aws::xml_text(R"(<a><Code lang="en">Throttling</Code></a>)", "Code") == "Throttling");
  CHECK(aws::xml_text("<a><Message/></a>", "Message") == "");
  CHECK(aws::xml_text("<a><Message></Message></a>", "Message") == "");
  CHECK_FALSE(aws::xml_element("<a><Message>text", "Message"));
  CHECK_FALSE(aws::xml_element("<a><Message", "Message"));
  // The close tag must be this element's, not one that starts like it.
  CHECK(aws::xml_text("<Code>x</CodeName></Code>", "Code") == "x</CodeName>");
  CHECK(aws::xml_element("<Code>x</CodeName></Code>", "Code") == "x</CodeName>");
}

TEST_CASE("entities and character references decode to UTF-8", "[xml]") {
  CHECK(aws::xml_unescape("&lt;&gt;&amp;&quot;&apos;") == "<>&\"'");
  CHECK(aws::xml_unescape("&#65;&#x42;&#X43;") == "ABC");
  CHECK(aws::xml_unescape("&#xE9;&#x1234;&#x1F600;") == "\xC3\xA9\xE1\x88\xB4\xF0\x9F\x98\x80");
  CHECK(aws::xml_unescape("plain") == "plain");
  for (const std::string bad : {"&nbsp;", "&amp", "&#;", "&#x;", "&#0;", "&#xD800;", "&#x110000;",
                                "&#12a;", "&#x123456789;", "& b"}) {
    INFO(bad);
    CHECK_FALSE(aws::xml_unescape(bad));
  }
  const std::string all = "<a href=\"x\">'&'</a>";
  CHECK(aws::xml_escape(all) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  CHECK(aws::xml_unescape(aws::xml_escape(all)) == all);
}
