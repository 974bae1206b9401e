// Native (C++) parts of the simulated npu (a TEST DOUBLE of torch_npu): PrivateUse1 hooks with a
// pinned host allocator, and a device guard that knows every simulated device.
//
// torch_npu registers a C++ at::PrivateUse1HooksInterface whose getPinnedMemoryAllocator() hands
// out page-locked host memory and whose isPinnedPtr() recognises it. PyTorch's own code asks for it
// (Tensor.pin_memory(), DataLoader(pin_memory=True), DistributedDataParallel's reducer with
// find_unused_parameters=True), and a Python PrivateUse1 backend cannot supply it. These hooks do,
// for the simulator: "pinned" memory is ordinary host memory from c10's CPU allocator whose
// addresses are tracked, so isPinnedPtr() is true exactly for live blocks it handed out.
// Everything else answers as PyTorch's Python-backend hooks do (built, available, context ready).
// On a host with a GPU and a CUDA build of torch, PyTorch pins with CUDA's allocator; those blocks
// are reported as pinned too.
//
// torch_npu also registers a C++ device guard (NPUGuardImpl). PyTorch's Python-backend guard says
// there is one device, so the autograd engine has no queue for npu:1 and backward there fails.
// This guard reports the simulated device count and keeps a current device per thread, as CUDA's
// does; streams are the default stream and events are no-ops (the simulator runs synchronously).
//
// Built by npu_compat/sim/native_hooks.py with the system C++ compiler, loaded with ctypes.
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/detail/PrivateUse1HooksInterface.h>
#include <c10/core/Allocator.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/core/impl/alloc_cpu.h>

#include <cstddef>
#include <exception>
#include <iterator>
#include <map>
#include <mutex>

namespace {

// never destroyed (nor the map below): pinned tensors may be freed during interpreter exit
std::mutex& blocks_mutex() {
  static auto* m = new std::mutex();
  return *m;
}

// live pinned blocks: start address -> size in bytes, ordered so a lookup finds the block below a pointer
std::map<const char*, size_t>& blocks() {
  static auto* live = new std::map<const char*, size_t>();
  return *live;
}

void free_pinned(void* ptr) {
  {
    std::lock_guard<std::mutex> lock(blocks_mutex());
    blocks().erase(static_cast<const char*>(ptr));
  }
  c10::free_cpu(ptr);
}

struct PinnedHostAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t nbytes) override {
    if (nbytes == 0) {  // as CUDA's host allocator: no block, no pointer
      return {nullptr, nullptr, &free_pinned, c10::Device(c10::DeviceType::CPU)};
    }
    void* ptr = c10::alloc_cpu(nbytes);
    {
      std::lock_guard<std::mutex> lock(blocks_mutex());
      blocks()[static_cast<const char*>(ptr)] = nbytes;
    }
    return {ptr, ptr, &free_pinned, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override {
    return &free_pinned;
  }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
};

PinnedHostAllocator& pinned_allocator() {
  static auto* allocator = new PinnedHostAllocator();
  return *allocator;
}

// Pointers into a block (views, offsets) count as pinned, as cudaHostGetFlags says for CUDA.
bool is_pinned(const void* data) {
  if (data == nullptr) {
    return false;
  }
  auto* p = static_cast<const char*>(data);
  std::lock_guard<std::mutex> lock(blocks_mutex());
  auto above = blocks().upper_bound(p);  // first block starting after p
  if (above == blocks().begin()) {
    return false;
  }
  auto block = std::prev(above);
  return p < block->first + block->second;
}

struct SimulatedNpuHooks final : at::PrivateUse1HooksInterface {
  bool isBuilt() const override {
    return true;
  }
  bool isAvailable() const override {
    return true;
  }
  bool hasPrimaryContext(c10::DeviceIndex /*device_index*/) const override {
    return true;
  }
  bool isPinnedPtr(const void* data) const override {
    if (is_pinned(data)) {
      return true;
    }
    // A CUDA build of torch on a host with a GPU pins with CUDA's allocator (PyTorch asks CUDA first),
    // while is_pinned() asks the PrivateUse1 hooks: answer for CUDA's blocks too.
    const auto& cuda = at::detail::getCUDAHooks();
    return cuda.hasCUDA() && cuda.isPinnedPtr(data);
  }
  c10::Allocator* getPinnedMemoryAllocator() const override {
    return &pinned_allocator();
  }
};

constexpr auto kNpu = c10::DeviceType::PrivateUse1;

thread_local c10::DeviceIndex current_index = 0;

struct SimulatedNpuGuard final : c10::impl::DeviceGuardImplInterface {
  explicit SimulatedNpuGuard(c10::DeviceIndex count) : count_(count) {}

  c10::DeviceType type() const override {
    return kNpu;
  }
  c10::Device exchangeDevice(c10::Device device) const override {
    auto previous = getDevice();
    setDevice(device);
    return previous;
  }
  c10::Device getDevice() const override {
    return c10::Device(kNpu, current_index);
  }
  void setDevice(c10::Device device) const override {
    TORCH_CHECK(device.index() >= 0 && device.index() < count_, "npu:", static_cast<int>(device.index()),
                " does not exist: the simulated npu has ", static_cast<int>(count_), " devices");
    current_index = device.index();
  }
  void uncheckedSetDevice(c10::Device device) const noexcept override {
    if (device.index() >= 0 && device.index() < count_) {
      current_index = device.index();
    }
  }
  c10::Stream getStream(c10::Device device) const override {
    return c10::Stream(c10::Stream::DEFAULT, device);
  }
  c10::Stream getNewStream(c10::Device device, int /*priority*/) const override {
    return c10::Stream(c10::Stream::DEFAULT, device);
  }
  c10::Stream exchangeStream(c10::Stream stream) const override {
    return c10::Stream(c10::Stream::DEFAULT, stream.device());
  }
  c10::DeviceIndex deviceCount() const noexcept override {
    return count_;
  }
  void record(void** /*event*/, const c10::Stream& /*stream*/, const c10::DeviceIndex /*device_index*/,
              const c10::EventFlag /*flag*/) const override {}
  void block(void* /*event*/, const c10::Stream& /*stream*/) const override {}
  bool queryEvent(void* /*event*/) const override {
    return true;
  }
  void destroyEvent(void* /*event*/, const c10::DeviceIndex /*device_index*/) const noexcept override {}
  bool queryStream(const c10::Stream& /*stream*/) const override {
    return true;
  }
  void synchronizeStream(const c10::Stream& /*stream*/) const override {}
  void synchronizeEvent(void* /*event*/) const override {}
  void synchronizeDevice(const c10::DeviceIndex /*device_index*/) const override {}

 private:
  c10::DeviceIndex count_;
};

}  // namespace

extern "C" {

// 1: registered; 0: PrivateUse1 already has hooks (left as they are); -1: registration threw.
int npu_sim_register_hooks() {
  try {
    if (at::isPrivateUse1HooksRegistered()) {
      return 0;
    }
    static auto* hooks = new SimulatedNpuHooks();
    at::RegisterPrivateUse1HooksInterface(hooks);
    return 1;
  } catch (const std::exception&) {
    return -1;
  }
}

// 1: registered with `count` devices; 0: PrivateUse1 already has a device guard; -1: bad count or it threw.
int npu_sim_register_device_guard(int count) {
  try {
    if (count < 1 || count > 64) {
      return -1;
    }
    if (c10::impl::hasDeviceGuardImpl(kNpu)) {
      return 0;
    }
    static auto* guard = new SimulatedNpuGuard(static_cast<c10::DeviceIndex>(count));
    c10::impl::registerDeviceGuard(kNpu, guard);
    return 1;
  } catch (const std::exception&) {
    return -1;
  }
}

int npu_sim_is_pinned_ptr(const void* data) {
  return is_pinned(data) ? 1 : 0;
}

// live pinned blocks and their bytes, for tests and memory statistics
size_t npu_sim_pinned_blocks() {
  std::lock_guard<std::mutex> lock(blocks_mutex());
  return blocks().size();
}

size_t npu_sim_pinned_bytes() {
  std::lock_guard<std::mutex> lock(blocks_mutex());
  size_t total = 0;
  for (const auto& [start, size] : blocks()) {
    total += size;
  }
  return total;
}

}  // extern "C"
