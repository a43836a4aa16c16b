// The JSON reader/writer used for chat requests and tool arguments, checked against Qt's parser.
#include "chat/json.h"

#include <QJsonDocument>
#include <QtTest>

#include <random>

using namespace ocelle::chat;

class TestJson : public QObject {
    Q_OBJECT
private slots:
    void parsesDocuments() {
        const auto v = json::parse(
            R"( {"a": [1, -2.5e3, true, false, null], "b": {"c": "d\n\u00e9\ud83d\ude00"}, "e": 0} )");
        QVERIFY(v.isObject());
        const auto& a = v.find("a")->items();
        QCOMPARE(a.size(), size_t(5));
        QCOMPARE(a[0].asNumber(), 1.0);
        QVERIFY(a[0].isInteger());
        QCOMPARE(a[1].asNumber(), -2500.0);
        QCOMPARE(a[1].numberLiteral(), std::string("-2.5e3"));
        QVERIFY(!a[1].isInteger());
        QVERIFY(a[2].asBool() && !a[3].asBool() && a[4].isNull());
        QCOMPARE(v.find("b")->find("c")->asString(), std::string("d\n\xC3\xA9\xF0\x9F\x98\x80"));
        QVERIFY(!v.find("e")->truthy());
        QVERIFY(v.find("missing") == nullptr);
        QVERIFY_THROWS_EXCEPTION(json::Error, v.find("a")->asString());
    }

    void keepsOrderAndRoundTrips() {
        const std::string text = "{\"z\":1,\"a\":[{\"k\":\"v\\\"\\\\\\u0001\"}],\"m\":null,\"n\":1.50}";
        const auto v = json::parse(text);
        QCOMPARE(v.members().front().first, std::string("z"));
        QCOMPARE(json::serialize(v), text);
        // What we write, Qt reads back to the same document.
        const QJsonDocument qt = QJsonDocument::fromJson(QByteArray::fromStdString(json::serialize(v)));
        QVERIFY(qt.isObject());
        QCOMPARE(qt.object().value("a").toArray().at(0).toObject().value("k").toString(),
                 QString("v\"\\\u0001"));
        QCOMPARE(json::serialize(json::Value::number(0.1)), std::string("0.1"));
        QCOMPARE(json::serialize(json::Value::string("tab\there")), std::string("\"tab\\there\""));
    }

    void duplicateKeysKeepTheLast() {
        const auto v = json::parse(R"({"a":1,"a":2})");
        QCOMPARE(v.members().size(), size_t(1));
        QCOMPARE(v.find("a")->asNumber(), 2.0);
    }

    void rejectsMalformedInput_data() {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("expect");
        QTest::newRow("empty") << QByteArray("") << "end of text";
        QTest::newRow("trailing comma") << QByteArray("[1,]") << "expected a value";
        QTest::newRow("object trailing comma") << QByteArray("{\"a\":1,}") << "member name";
        QTest::newRow("leading zero") << QByteArray("01") << "leading zeros";
        QTest::newRow("bare word") << QByteArray("nul") << "unexpected character";
        QTest::newRow("single quotes") << QByteArray("{'a':1}") << "member name";
        QTest::newRow("unterminated") << QByteArray("\"abc") << "unterminated string";
        QTest::newRow("control char") << QByteArray("\"a\tb\"") << "control character";
        QTest::newRow("bad escape") << QByteArray("\"\\x\"") << "invalid escape";
        QTest::newRow("lone surrogate") << QByteArray("\"\\udc00\"") << "surrogate";
        QTest::newRow("bad utf8") << QByteArray("\"\xC3\x28\"") << "UTF-8";
        QTest::newRow("overlong utf8") << QByteArray("\"\xE0\x80\xAF\"") << "UTF-8";
        QTest::newRow("two values") << QByteArray("1 2") << "after the JSON value";
        QTest::newRow("missing colon") << QByteArray("{\"a\" 1}") << "':'";
        QTest::newRow("huge number") << QByteArray("1e999") << "out of range";
        QTest::newRow("too deep") << QByteArray(200, '[') << "nested deeper";
        QTest::newRow("line and column") << QByteArray("{\n  \"a\": ?\n}") << "line 2, column 8";
    }

    void rejectsMalformedInput() {
        QFETCH(QByteArray, text);
        QFETCH(QString, expect);
        try {
            json::parse(std::string_view(text.constData(), text.size()));
            QFAIL("accepted");
        } catch (const json::Error& e) {
            QVERIFY2(QString(e.what()).contains(expect), e.what());
        }
    }

    void mutatedDocumentsFailCleanly() {
        // Byte mutations of a valid document either parse or throw json::Error, nothing else.
        const std::string base =
            "{\"a\": [1, 2.5e-3, {\"b\": \"x\\u00e9\\n\"}], \"c\": [true, false, null], \"d\": \"\xC3\xA9\"}";
        QVERIFY(json::parse(base).isObject());
        std::mt19937 rng(11);
        const std::string alphabet = "{}[]\",:\\u0123456789.eE+-truefalsn \x80\xC3\xFF";
        int parsed = 0, rejected = 0;
        for (int i = 0; i < 5000; ++i) {
            std::string doc = base;
            const int edits = 1 + static_cast<int>(rng() % 3);
            for (int e = 0; e < edits; ++e) {
                const size_t at = rng() % doc.size();
                switch (rng() % 3) {
                case 0:
                    doc[at] = alphabet[rng() % alphabet.size()];
                    break;
                case 1:
                    doc.erase(at, 1);
                    break;
                default:
                    doc.insert(at, 1, alphabet[rng() % alphabet.size()]);
                    break;
                }
            }
            try {
                const auto v = json::parse(doc);
                // What parses re-serializes to something that parses to the same value.
                QVERIFY(json::parse(json::serialize(v)) == v);
                ++parsed;
            } catch (const json::Error&) {
                ++rejected;
            }
        }
        QVERIFY(parsed > 0 && rejected > 0);
    }

    void truthiness() {
        QVERIFY(!json::Value().truthy());
        QVERIFY(!json::Value::string("").truthy());
        QVERIFY(json::Value::string("x").truthy());
        QVERIFY(!json::Value::array().truthy());
        QVERIFY(!json::Value::number(0).truthy());
        QVERIFY(json::Value::object({{"a", json::Value()}}).truthy());
    }
};

QTEST_APPLESS_MAIN(TestJson)
#include "test_json.moc"
