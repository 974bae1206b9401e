// The simulated npu (a TEST DOUBLE of torch_npu + CANN + the chip) as a PrivateUse1 device in C++,
// in the manner of PyTorch's in-tree test backend OpenReg:
//
// - a device allocator over host memory, per device index, with live/peak byte statistics, so a
//   device tensor's untyped_storage().data_ptr() is a real address;
// - a device guard that knows every simulated device and keeps a current device per thread;
// - PrivateUse1 hooks: a pinned host allocator whose blocks isPinnedPtr() recognises, a default
//   generator per device and new generators (torch.manual_seed, torch.Generator(device="npu"));
// - the kernels a device must own in C++: empty, empty_strided, the view family (as_strided,
//   view, _reshape_alias), resize_ and set_;
// - three npu_sim:: ops the Python fallback uses to run an op on the host: host_view (a cpu tensor
//   aliasing a device tensor's memory), adopt (a device tensor over a host result's memory, no copy)
//   and alias_like (a device tensor on a device tensor's storage with a host view's geometry).
//
// Every other aten op reaches the boxed fallback on PrivateUse1 registered from Python
// (npu_compat/sim/dispatch.py), which decides by the chosen torch_npu release's kernel list.
//
// Built by npu_compat/sim/native_hooks.py with the system C++ compiler, loaded with ctypes (the
// TORCH_LIBRARY registrations run when the library is loaded).
#include <ATen/core/Tensor.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/EmptyTensor.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/detail/PrivateUse1HooksInterface.h>
#include <ATen/native/Resize.h>
#include <ATen/ops/_reshape_alias_native.h>
#include <ATen/ops/as_strided_native.h>
#include <ATen/ops/resize_native.h>
#include <ATen/ops/set_native.h>
#include <ATen/ops/view_native.h>
#include <c10/core/Allocator.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/core/impl/alloc_cpu.h>
#include <torch/library.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <exception>
#include <iterator>
#include <map>
#include <mutex>
#include <vector>

namespace {

constexpr auto kNpu = c10::DeviceType::PrivateUse1;
constexpr int kMaxDevices = 64;

// ---- pinned host memory -------------------------------------------------------------------
// never destroyed (nor the maps below): tensors may be freed during interpreter exit
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

// ---- the current device and device memory -------------------------------------------------
thread_local c10::DeviceIndex current_index = 0;
c10::DeviceIndex device_count = 1;

struct DeviceBytes {
  std::atomic<int64_t> live{0};
  std::atomic<int64_t> peak{0};
};

DeviceBytes* device_bytes() {
  static auto* bytes = new DeviceBytes[kMaxDevices];
  return bytes;
}

void count_bytes(int index, int64_t delta) {
  auto& slot = device_bytes()[index];
  auto now = slot.live.fetch_add(delta) + delta;
  auto peak = slot.peak.load();
  while (now > peak && !slot.peak.compare_exchange_weak(peak, now)) {
  }
}

// what a device block's deleter needs: its size and device, and (for adopted host memory) the
// host storage that owns the bytes
struct Block {
  size_t nbytes;
  int index;
  c10::Storage owner;  // empty for memory the device allocator allocated itself
  void* own;           // memory to free_cpu, or null
};

void free_block(void* context) {
  auto* block = static_cast<Block*>(context);
  count_bytes(block->index, -static_cast<int64_t>(block->nbytes));
  if (block->own != nullptr) {
    c10::free_cpu(block->own);
  }
  delete block;
}

struct DeviceAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t nbytes) override {
    auto device = c10::Device(kNpu, current_index);
    if (nbytes == 0) {
      return {nullptr, nullptr, &c10::detail::deleteNothing, device};
    }
    void* ptr = c10::alloc_cpu(nbytes);
    auto* block = new Block{nbytes, current_index, c10::Storage(), ptr};
    count_bytes(current_index, static_cast<int64_t>(nbytes));
    return {ptr, block, &free_block, device};
  }
  c10::DeleterFnPtr raw_deleter() const override {
    return nullptr;  // the context is not the data pointer
  }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
};

DeviceAllocator& device_allocator() {
  static auto* allocator = new DeviceAllocator();
  return *allocator;
}

// ---- generators ---------------------------------------------------------------------------
// A device generator has the host's Philox-free mt19937 state (CPUGeneratorImpl) on device npu:N; the
// fallback runs a random op on the host with a host generator carrying this state, and writes it back.
struct DeviceGenerator final : at::CPUGeneratorImpl {
  explicit DeviceGenerator(c10::DeviceIndex index) {
    device_ = c10::Device(kNpu, index);
    key_set_ = c10::DispatchKeySet(c10::DispatchKey::PrivateUse1);
  }
};

std::vector<at::Generator>& default_generators() {
  static auto* generators = new std::vector<at::Generator>();
  return *generators;
}

c10::DeviceIndex checked(c10::DeviceIndex index) {
  auto i = index < 0 ? current_index : index;
  TORCH_CHECK(i >= 0 && i < device_count, "npu:", static_cast<int>(i), " does not exist: the simulated npu has ",
              static_cast<int>(device_count), " devices");
  return i;
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
  c10::DeviceIndex deviceCount() const override {
    return device_count;
  }
  c10::DeviceIndex getCurrentDevice() const override {
    return current_index;
  }
  void setCurrentDevice(c10::DeviceIndex device) const override {
    current_index = checked(device);
  }
  c10::DeviceIndex exchangeDevice(c10::DeviceIndex device) const override {
    auto previous = current_index;
    current_index = checked(device);
    return previous;
  }
  c10::DeviceIndex maybeExchangeDevice(c10::DeviceIndex device) const override {
    return exchangeDevice(device);
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
  at::Device getDeviceFromPtr(void* /*data*/) const override {
    return c10::Device(kNpu, current_index);
  }
  const at::Generator& getDefaultGenerator(c10::DeviceIndex device_index) const override {
    return default_generators().at(checked(device_index));
  }
  at::Generator getNewGenerator(c10::DeviceIndex device_index = -1) const override {
    return at::make_generator<DeviceGenerator>(checked(device_index));
  }
  void resizePrivateUse1Bytes(const c10::Storage& storage, size_t newsize) const override {
    at::native::resize_bytes_cpu(storage.unsafeGetStorageImpl(), newsize);
  }
};

// ---- device guard -------------------------------------------------------------------------
// Streams are the default stream and events are no-ops: the simulator runs synchronously.
struct SimulatedNpuGuard final : c10::impl::DeviceGuardImplInterface {
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
    current_index = checked(device.index());
  }
  void uncheckedSetDevice(c10::Device device) const noexcept override {
    if (device.index() >= 0 && device.index() < device_count) {
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
    return device_count;
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
};

// ---- kernels the device owns ----------------------------------------------------------------
c10::DeviceIndex index_of(std::optional<c10::Device> device) {
  return checked(device.has_value() ? device->index() : static_cast<c10::DeviceIndex>(-1));
}

struct IndexScope {  // allocate on the requested index, then restore the current one
  explicit IndexScope(c10::DeviceIndex index) : saved(current_index) {
    current_index = index;
  }
  ~IndexScope() {
    current_index = saved;
  }
  c10::DeviceIndex saved;
};

at::Tensor empty_npu(c10::IntArrayRef size, std::optional<c10::ScalarType> dtype, std::optional<c10::Layout> layout,
                     std::optional<c10::Device> device, std::optional<bool> pin_memory,
                     std::optional<c10::MemoryFormat> memory_format) {
  TORCH_CHECK(!pin_memory.value_or(false), "only dense host tensors can be pinned");
  IndexScope scope(index_of(device));
  return at::detail::empty_generic(size, &device_allocator(), c10::DispatchKeySet(c10::DispatchKey::PrivateUse1),
                                   c10::dtype_or_default(dtype), memory_format);
}

at::Tensor empty_strided_npu(c10::IntArrayRef size, c10::IntArrayRef stride, std::optional<c10::ScalarType> dtype,
                             std::optional<c10::Layout> layout, std::optional<c10::Device> device,
                             std::optional<bool> pin_memory) {
  TORCH_CHECK(!pin_memory.value_or(false), "only dense host tensors can be pinned");
  IndexScope scope(index_of(device));
  return at::detail::empty_strided_generic(size, stride, &device_allocator(),
                                           c10::DispatchKeySet(c10::DispatchKey::PrivateUse1),
                                           c10::dtype_or_default(dtype));
}

at::Tensor& set_storage_npu(at::Tensor& self, c10::Storage source, int64_t storage_offset, c10::IntArrayRef size,
                            c10::IntArrayRef stride) {
  return at::native::set_storage_cpu_(self, std::move(source), storage_offset, size, stride);
}

at::Tensor& set_source_storage_npu(at::Tensor& self, c10::Storage source) {
  auto numel = static_cast<int64_t>(source.nbytes() / self.dtype().itemsize());
  return set_storage_npu(self, std::move(source), 0, {numel}, {});
}

at::Tensor& set_empty_npu(at::Tensor& self) {
  IndexScope scope(self.device().index());
  c10::Storage storage(c10::Storage::use_byte_size_t(), 0, &device_allocator(), true);
  return set_storage_npu(self, std::move(storage), 0, {0}, {});
}

const at::Tensor& resize_npu(const at::Tensor& self, c10::IntArrayRef size,
                             std::optional<c10::MemoryFormat> memory_format) {
  IndexScope scope(self.device().index());
  return at::native::resize_(self, size, memory_format);
}

// ---- the fallback's three ops ---------------------------------------------------------------
struct Keep {  // holds a storage alive for as long as another storage uses its bytes
  c10::Storage storage;
};

void release_keep(void* context) {
  delete static_cast<Keep*>(context);
}

// geometry and the lazy conjugate/negative bits of `like` (a host view of a negated view stays negated)
at::Tensor with_geometry(c10::Storage storage, c10::DispatchKeySet keys, const at::Tensor& like) {
  auto out = at::detail::make_tensor<c10::TensorImpl>(std::move(storage), keys, like.dtype());
  out.unsafeGetTensorImpl()->set_sizes_and_strides(like.sizes(), like.strides(), like.storage_offset());
  out._set_conj(like.is_conj());
  out._set_neg(like.is_neg());
  return out;
}

// a cpu tensor over the same bytes as a device tensor (same base address, sizes, strides, offset)
at::Tensor host_view(const at::Tensor& self) {
  const auto& storage = self.storage();
  void* data = storage.mutable_data();
  c10::DataPtr ptr(data, new Keep{storage}, &release_keep, c10::Device(c10::DeviceType::CPU));
  auto host = c10::make_intrusive<c10::StorageImpl>(c10::StorageImpl::use_byte_size_t(), storage.nbytes(),
                                                    std::move(ptr), c10::GetCPUAllocator(), true);
  return with_geometry(c10::Storage(std::move(host)), c10::DispatchKeySet(c10::DispatchKey::CPU), self);
}

// a device tensor on npu:index over a host tensor's bytes (the host storage stays alive with it)
at::Tensor adopt(const at::Tensor& host, int64_t index) {
  auto i = checked(static_cast<c10::DeviceIndex>(index));
  const auto& storage = host.storage();
  auto nbytes = storage.nbytes();
  auto* block = new Block{nbytes, i, storage, nullptr};
  count_bytes(i, static_cast<int64_t>(nbytes));
  c10::DataPtr ptr(storage.mutable_data(), block, &free_block, c10::Device(kNpu, i));
  auto device = c10::make_intrusive<c10::StorageImpl>(c10::StorageImpl::use_byte_size_t(), nbytes, std::move(ptr),
                                                      &device_allocator(), true);
  return with_geometry(c10::Storage(std::move(device)), c10::DispatchKeySet(c10::DispatchKey::PrivateUse1), host);
}

// a device tensor on `base`'s storage with `like`'s dtype and geometry (a view the host computed)
at::Tensor alias_like(const at::Tensor& base, const at::Tensor& like) {
  return with_geometry(base.storage(), c10::DispatchKeySet(c10::DispatchKey::PrivateUse1), like);
}

}  // namespace

TORCH_LIBRARY(npu_sim, m) {
  m.def("host_view(Tensor self) -> Tensor");
  m.def("adopt(Tensor host, int index) -> Tensor");
  m.def("alias_like(Tensor base, Tensor like) -> Tensor");
}

TORCH_LIBRARY_IMPL(npu_sim, PrivateUse1, m) {
  m.impl("host_view", &host_view);
  m.impl("alias_like", &alias_like);
}

TORCH_LIBRARY_IMPL(npu_sim, CPU, m) {
  m.impl("adopt", &adopt);
}

// the three ops carry the conjugate/negative bits over themselves (with_geometry)
TORCH_LIBRARY_IMPL(npu_sim, Conjugate, m) {
  m.impl("host_view", torch::CppFunction::makeFallthrough());
  m.impl("adopt", torch::CppFunction::makeFallthrough());
  m.impl("alias_like", torch::CppFunction::makeFallthrough());
}

TORCH_LIBRARY_IMPL(npu_sim, Negative, m) {
  m.impl("host_view", torch::CppFunction::makeFallthrough());
  m.impl("adopt", torch::CppFunction::makeFallthrough());
  m.impl("alias_like", torch::CppFunction::makeFallthrough());
}

// The copy kernel reads a conjugated or negated source through its host view, which keeps those bits;
// without these fallthroughs torch would materialise the source with clone(), whose copy_ comes back here.
TORCH_LIBRARY_IMPL(aten, Conjugate, m) {
  m.impl("_copy_from", torch::CppFunction::makeFallthrough());
  m.impl("_copy_from_and_resize", torch::CppFunction::makeFallthrough());
}

TORCH_LIBRARY_IMPL(aten, Negative, m) {
  m.impl("_copy_from", torch::CppFunction::makeFallthrough());
  m.impl("_copy_from_and_resize", torch::CppFunction::makeFallthrough());
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("empty.memory_format", &empty_npu);
  m.impl("empty_strided", &empty_strided_npu);
  m.impl("as_strided", &at::native::as_strided_tensorimpl);
  m.impl("view", &at::native::view);
  m.impl("_reshape_alias", &at::native::_reshape_alias);
  m.impl("resize_", &resize_npu);
  m.impl("set_.source_Storage_storage_offset", &set_storage_npu);
  m.impl("set_.source_Storage", &set_source_storage_npu);
  m.impl("set_.source_Tensor", &at::native::set_tensor_);
  m.impl("set_", &set_empty_npu);
}

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

// 1: registered with `count` devices (allocator, generators, guard); 0: PrivateUse1 already has a
// device guard; -1: bad count or it threw.
int npu_sim_register_device_guard(int count) {
  try {
    if (count < 1 || count > kMaxDevices) {
      return -1;
    }
    if (c10::impl::hasDeviceGuardImpl(kNpu)) {
      return 0;
    }
    device_count = static_cast<c10::DeviceIndex>(count);
    for (int i = 0; i < count; ++i) {
      auto generator = at::make_generator<DeviceGenerator>(static_cast<c10::DeviceIndex>(i));
      default_generators().push_back(generator);
    }
    c10::SetAllocator(kNpu, &device_allocator());
    static auto* guard = new SimulatedNpuGuard();
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

// bytes of live device memory on npu:index, and the most seen since the last reset
int64_t npu_sim_device_bytes(int index) {
  return index >= 0 && index < kMaxDevices ? device_bytes()[index].live.load() : 0;
}

int64_t npu_sim_device_peak_bytes(int index) {
  return index >= 0 && index < kMaxDevices ? device_bytes()[index].peak.load() : 0;
}

void npu_sim_reset_peak_bytes(int index) {
  if (index >= 0 && index < kMaxDevices) {
    device_bytes()[index].peak.store(device_bytes()[index].live.load());
  }
}

int npu_sim_current_device() {
  return current_index;
}

// 1: npu:index is now this thread's current device; 0: no such device
int npu_sim_set_current_device(int index) {
  if (index < 0 || index >= device_count) {
    return 0;
  }
  current_index = static_cast<c10::DeviceIndex>(index);
  return 1;
}

}  // extern "C"
