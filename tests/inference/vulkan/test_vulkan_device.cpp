// Device ranking and forcing (pure logic on made-up device lists, so it runs everywhere), then the
// real device: opening it, the embedded shaders, a round trip through memory, range splitting of
// weight tensors, and zero validation errors.
#include "vulkan_test_support.h"

#include <QtTest>

using namespace ocelle::vulkan;
using namespace ocelle::vulkan::testing;

namespace {

DeviceInfo fake(uint32_t index, const char* name, DeviceType type, uint64_t memory = 1ull << 30) {
    DeviceInfo d;
    d.index = index;
    d.name = name;
    d.type = type;
    d.deviceLocalBytes = memory;
    return d;
}

// Runs f with OCELLE_VULKAN_DEVICE unset, restoring it afterwards.
template <typename F> void withoutDeviceEnv(F&& f) {
    const char* old = std::getenv("OCELLE_VULKAN_DEVICE");
    const std::string saved = old ? old : "";
    unsetenv("OCELLE_VULKAN_DEVICE");
    f();
    if (old) setenv("OCELLE_VULKAN_DEVICE", saved.c_str(), 1);
}

} // namespace

class TestVulkanDevice : public QObject {
    Q_OBJECT

private slots:
    void ranksDiscreteOverIntegratedOverVirtual() {
        const std::vector<DeviceInfo> devices{
            fake(0, "llvmpipe", DeviceType::Cpu), fake(1, "vgpu", DeviceType::VirtualGpu),
            fake(2, "iGPU", DeviceType::IntegratedGpu), fake(3, "dGPU", DeviceType::DiscreteGpu)};
        auto choice = autoSelectDevice(devices);
        QCOMPARE(choice.index.value_or(99), 3u);
        auto noDiscrete = devices;
        noDiscrete.pop_back();
        QCOMPARE(autoSelectDevice(noDiscrete).index.value_or(99), 2u);
        noDiscrete.pop_back();
        QCOMPARE(autoSelectDevice(noDiscrete).index.value_or(99), 1u);
    }

    void prefersMoreMemoryWithinAType() {
        const std::vector<DeviceInfo> devices{fake(0, "small", DeviceType::DiscreteGpu, 4ull << 30),
                                              fake(1, "big", DeviceType::DiscreteGpu, 24ull << 30)};
        QCOMPARE(autoSelectDevice(devices).index.value_or(99), 1u);
    }

    void neverPicksACpuDeviceAutomatically() {
        const std::vector<DeviceInfo> devices{fake(0, "llvmpipe (LLVM 15)", DeviceType::Cpu),
                                              fake(1, "SwiftShader", DeviceType::Cpu)};
        const auto choice = autoSelectDevice(devices);
        QVERIFY(!choice.index);
        QVERIFY(choice.reason.find("CPU") != std::string::npos);
        QVERIFY(autoSelectDevice({}).reason.find("no Vulkan device") != std::string::npos);
    }

    void skipsUnusableDevices() {
        auto broken = fake(0, "old GPU", DeviceType::DiscreteGpu);
        broken.unmetRequirements.push_back("Vulkan 1.1.0 (1.2 required)");
        const std::vector<DeviceInfo> devices{broken, fake(1, "iGPU", DeviceType::IntegratedGpu)};
        QCOMPARE(autoSelectDevice(devices).index.value_or(99), 1u);
        withoutDeviceEnv([&] {
            const auto forced = chooseDevice(devices, "old");
            QVERIFY(!forced.index);
            QVERIFY(forced.reason.find("1.2 required") != std::string::npos);
        });
    }

    void forcingByIndexNameAndEnvironment() {
        const std::vector<DeviceInfo> devices{fake(0, "llvmpipe (LLVM 15)", DeviceType::Cpu),
                                              fake(1, "AMD Radeon RX 7900", DeviceType::DiscreteGpu)};
        withoutDeviceEnv([&] {
            auto c = chooseDevice(devices, "0");
            QCOMPARE(c.index.value_or(99), 0u); // forcing may pick a CPU device...
            QVERIFY(c.forced);
            QVERIFY(c.reason.find("warning") != std::string::npos);           // ...with a warning
            QCOMPARE(chooseDevice(devices, "radeon").index.value_or(99), 1u); // case-insensitive substring
            QVERIFY(!chooseDevice(devices, "7").index);                       // no such index
            QVERIFY(chooseDevice(devices, "7").reason.find("does not exist") != std::string::npos);
            QVERIFY(!chooseDevice(devices, "nvidia").index);
            QCOMPARE(chooseDevice(devices).index.value_or(99), 1u); // nothing forced: automatic
            setenv("OCELLE_VULKAN_DEVICE", "LLVMPIPE", 1);
            c = chooseDevice(devices);
            QCOMPARE(c.index.value_or(99), 0u);
            QVERIFY(c.reason.find("OCELLE_VULKAN_DEVICE") != std::string::npos);
            QCOMPARE(chooseDevice(devices, "1").index.value_or(99),
                     1u); // the argument wins over the variable
            unsetenv("OCELLE_VULKAN_DEVICE");
        });
    }

    void realDevice() {
        std::string why;
        auto device = openTestDevice(why);
        if (!device) QSKIP(("no Vulkan device to test: " + why).c_str());
        const auto& f = device->features();
        qInfo("device %s (%s), subgroup %u, max binding %llu, shared %u, validation %s",
              device->info().name.c_str(), deviceTypeName(device->info().type), f.subgroupSize,
              static_cast<unsigned long long>(f.maxStorageBufferRange), f.maxSharedMemory,
              device->instance().validationEnabled() ? "on" : "off");
        QVERIFY(f.apiVersion >= VK_API_VERSION_1_2);
        QVERIFY(f.maxStorageBufferRange > 0);
        QVERIFY(f.maxPushConstantsSize >= 128);
        QVERIFY(!device->choiceReason().empty());

        // Every kernel variant is embedded and creates a pipeline.
        Pipelines pipelines(*device);
        const auto names = shaderNames();
        QVERIFY(names.size() >= 40);
        for (const auto& name : names) {
            if (name.starts_with("matmul"))
                pipelines.get(name, {256, 64, 64});
            else
                pipelines.get(name, {64});
        }
        QVERIFY(!findShader("no_such_kernel"));
        QVERIFY_THROWS_EXCEPTION(VulkanError, pipelines.get("no_such_kernel", {}));

        // Memory round trip.
        std::mt19937 rng(testSeed());
        const auto data = randomFloats(1000, rng);
        auto buffer = uploadVector(*device, data);
        QCOMPARE(readVector(*device, *buffer, data.size()), data);

        // Weight tensors split into bindings of whole row groups.
        const auto bytes = randomWeights(TensorType::Q8_0, 100, 64, rng); // 68 bytes per row
        auto t = WeightTensor::upload(*device, uint32_t(TensorType::Q8_0), 100, 64, bytes.data(), 4, 68 * 10);
        QCOMPARE(t->chunks().size(), size_t(13)); // 8 rows (two groups of 4) per chunk
        uint64_t rows = 0;
        for (const auto& c : t->chunks()) {
            QCOMPARE(c.firstRow, rows);
            QVERIFY(c.rows % 4 == 0);
            rows += c.rows;
            std::vector<uint8_t> back(c.bytes);
            download(*device, *c.buffer, 0, back.data(), back.size());
            QVERIFY(std::equal(back.begin(), back.end(), bytes.begin() + c.firstRow * 68));
        }
        QCOMPARE(rows, uint64_t(100));
        QVERIFY_THROWS_EXCEPTION(
            std::invalid_argument,
            WeightTensor::upload(*device, uint32_t(TensorType::Q8_0), 2, 48, bytes.data()));
        QCOMPARE(device->validationErrors(), uint64_t(0));
    }

    // The messenger counts what the validation layer reports (so "zero errors" assertions mean something).
    void validationErrorsAreCounted() {
        std::string why;
        auto device = openTestDevice(why);
        if (!device) QSKIP(("no Vulkan device to test: " + why).c_str());
        if (!device->instance().validationEnabled()) QSKIP("the Khronos validation layer is not installed");
        QCOMPARE(device->validationErrors(), uint64_t(0));
        VkBufferCreateInfo info{};
        info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
        info.size = 0; // invalid: VUID-VkBufferCreateInfo-size-00912
        info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
        VkBuffer buffer = VK_NULL_HANDLE;
        qInfo("a deliberate validation error follows");
        if (vk().vkCreateBuffer(device->handle(), &info, nullptr, &buffer) == VK_SUCCESS &&
            buffer != VK_NULL_HANDLE)
            vk().vkDestroyBuffer(device->handle(), buffer, nullptr);
        QVERIFY(device->validationErrors() > 0);
    }

    void forcingAMissingDeviceFailsClearly() {
        std::string why;
        if (!openTestDevice(why)) QSKIP(("no Vulkan device to test: " + why).c_str());
        DeviceOptions options;
        options.forced = "no-such-device-name";
        try {
            Device::open(options);
            QFAIL("opening a missing device did not throw");
        } catch (const VulkanError& e) {
            QVERIFY2(std::string(e.what()).find("no-such-device-name") != std::string::npos, e.what());
        }
    }
};

QTEST_APPLESS_MAIN(TestVulkanDevice)
#include "test_vulkan_device.moc"
