// Loss log: CSV round trip and errors, and the SVG's structure and geometry.
#include "train/loss_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace leanlm {
namespace {

LossLog Sample() {
  LossLog log;
  log.Add({1, 4.0, NAN, 1e-3, 2.5, 100, 0.5});
  log.Add({2, 3.0, NAN, 1e-3, 1.25, 200, 1.0});
  log.Add({2, NAN, 3.5, NAN, NAN, 0, 0});  // validation measured after step 2
  log.Add({3, 2.0, NAN, 5e-4, 0.75, 300, 1.5});
  log.Add({4, 1.0, 1.5, 2.5e-4, 0.5, 400, 2.0});
  return log;
}

// The values of an attribute in every element that has it.
std::vector<std::string> Attr(const std::string& svg, const std::string& name) {
  std::vector<std::string> out;
  const std::string key = " " + name + "=\"";
  for (size_t at = svg.find(key); at != std::string::npos; at = svg.find(key, at + 1)) {
    const size_t begin = at + key.size();
    out.push_back(svg.substr(begin, svg.find('"', begin) - begin));
  }
  return out;
}

// Checks that start and end tags nest properly (a browser needs well-formed XML).
bool WellFormed(const std::string& svg) {
  std::vector<std::string> open;
  for (size_t at = svg.find('<'); at != std::string::npos; at = svg.find('<', at + 1)) {
    const size_t end = svg.find('>', at);
    if (end == std::string::npos) return false;
    const std::string tag = svg.substr(at + 1, end - at - 1);
    const std::string name = tag.substr(tag[0] == '/' ? 1 : 0, tag.find_first_of(" />", 1) - (tag[0] == '/' ? 1 : 0));
    if (tag[0] == '/') {
      if (open.empty() || open.back() != name) return false;
      open.pop_back();
    } else if (tag.back() != '/') {
      open.push_back(name);
    }
  }
  return open.empty();
}

TEST(LossLogTest, CsvRoundTripAndMerge) {
  const LossLog log = Sample();
  ASSERT_EQ(log.records().size(), 4u);
  EXPECT_EQ(log.records()[1].val_loss, 3.5);
  EXPECT_EQ(log.records()[1].train_loss, 3.0);
  const std::string csv = log.ToCsv();
  EXPECT_EQ(csv.substr(0, csv.find('\n')), kLossCsvHeader);
  EXPECT_NE(csv.find("\n1,4,,0.001,2.5,100,0.5\n"), std::string::npos) << csv;
  auto back = LossLog::FromCsv(csv, "loss.csv");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->ToCsv(), csv);
  EXPECT_TRUE(std::isnan(back->records()[0].val_loss));
  LossLog cut = back.value();
  cut.TruncateAfter(2);
  EXPECT_EQ(cut.records().size(), 2u);
  cut.Add({2, 9.0, NAN, NAN, NAN, 0, 0});  // a redone step replaces its record's fields
  EXPECT_EQ(cut.records().back().train_loss, 9.0);
  cut.Add({1, 7.0, NAN, NAN, NAN, 0, 0});  // an earlier step drops what came after it
  EXPECT_EQ(cut.records().size(), 1u);
}

TEST(LossLogTest, BadCsvNamesTheLine) {
  const std::string h = std::string(kLossCsvHeader) + "\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"step,loss\n", "loss.csv:1"},
      {h + "1,2,,3,4,5,6\n2,x,,3,4,5,6\n", "loss.csv:3"},
      {h + "1,2,3\n", "expected 7 fields"},
      {h + "1,2,,3,4,-5,6\n", "not a count"},
      {h + "2,2,,3,4,5,6\n2,2,,3,4,5,6\n", "steps must increase"},
      {h + "1,inf,,3,4,5,6\n", "not a finite number"},
      {h + "1,2,,3,4,5,\n", "empty field"},
  };
  for (const auto& [text, want] : cases) {
    auto log = LossLog::FromCsv(text, "loss.csv");
    ASSERT_FALSE(log.ok()) << text;
    EXPECT_NE(log.status().message().find(want), std::string::npos) << log.status().message();
  }
}

TEST(LossLogTest, SvgHasAxesTicksSeriesAndLegend) {
  const std::string svg = LossCurveSvg(Sample().records(), "tiny <run> & co");
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_TRUE(WellFormed(svg)) << svg;
  EXPECT_NE(svg.find("tiny &lt;run&gt; &amp; co"), std::string::npos);
  EXPECT_NE(svg.find(">train</text>"), std::string::npos);
  EXPECT_NE(svg.find(">validation</text>"), std::string::npos);
  EXPECT_NE(svg.find(">step</text>"), std::string::npos);
  EXPECT_NE(svg.find(">loss</text>"), std::string::npos);
  for (const char* tick : {">1</text>", ">2</text>", ">3</text>", ">4</text>"}) {
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  }
  const std::vector<std::string> polylines = Attr(svg, "points");
  ASSERT_EQ(polylines.size(), 2u);
  // Train: 4 points left to right, lower loss drawn lower on screen (larger y),
  // from the plot's left edge to its right edge.
  std::vector<std::pair<double, double>> pts;
  std::istringstream in(polylines[0]);
  for (std::string xy; in >> xy;) pts.emplace_back(std::stod(xy), std::stod(xy.substr(xy.find(',') + 1)));
  ASSERT_EQ(pts.size(), 4u);
  for (size_t i = 1; i < pts.size(); ++i) {
    EXPECT_GT(pts[i].first, pts[i - 1].first);
    EXPECT_GT(pts[i].second, pts[i - 1].second);
    // Equal loss steps give equal pixel steps (a linear scale).
    EXPECT_NEAR(pts[i].second - pts[i - 1].second, pts[1].second - pts[0].second, 0.02);
  }
  EXPECT_NEAR(pts.front().first, 70.0, 1e-9);
  EXPECT_NEAR(pts.back().first, 780.0, 1e-9);
  EXPECT_EQ(Attr(svg, "cx").size(), 2u);  // validation markers
}

TEST(LossLogTest, SvgOfNothingOrOnePointIsStillAPicture) {
  EXPECT_TRUE(WellFormed(LossCurveSvg({}, "empty")));
  const std::string one = LossCurveSvg({{5, 2.0, NAN, NAN, NAN, 0, 0}}, "one");
  EXPECT_TRUE(WellFormed(one));
  EXPECT_EQ(Attr(one, "points").size(), 1u);
  EXPECT_EQ(one.find("nan"), std::string::npos);
  EXPECT_EQ(one.find("inf"), std::string::npos);
}

TEST(LossLogTest, WritesFilesAtomically) {
  const auto dir = std::filesystem::temp_directory_path() / ("leanlm_loss_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const LossLog log = Sample();
  ASSERT_TRUE(log.WriteCsv(dir / "loss.csv").ok());
  ASSERT_TRUE(log.WriteSvg(dir / "loss.svg", "run").ok());
  std::stringstream csv;
  csv << std::ifstream(dir / "loss.csv").rdbuf();
  EXPECT_EQ(csv.str(), log.ToCsv());
  EXPECT_TRUE(std::filesystem::exists(dir / "loss.svg"));
  EXPECT_FALSE(std::filesystem::exists(dir / "loss.csv.tmp"));
  EXPECT_FALSE(log.WriteCsv(dir / "no" / "such" / "loss.csv").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace leanlm
