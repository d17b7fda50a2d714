#include "dlpack_capsule.hpp"

#include <stdexcept>

#include "trickle/tensor/dlpack.hpp"

namespace py = pybind11;

namespace trickle::python {
namespace {
constexpr const char* fresh_name = "dltensor";
constexpr const char* used_name = "used_dltensor";

void delete_unconsumed(PyObject* capsule) {
  // A consumer renames the capsule and owns the tensor from then on.
  if (!PyCapsule_IsValid(capsule, fresh_name)) return;
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, fresh_name));
  if (managed && managed->deleter) managed->deleter(managed);
}
}  // namespace

py::capsule to_capsule(const tensor::Tensor& tensor) {
  DLManagedTensor* managed = tensor::to_dlpack(tensor);
  PyObject* capsule = PyCapsule_New(managed, fresh_name, delete_unconsumed);
  if (!capsule) {
    managed->deleter(managed);
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(capsule);
}

tensor::Tensor tensor_from_python(py::handle object) {
  py::object capsule;
  if (PyCapsule_CheckExact(object.ptr())) {
    capsule = py::reinterpret_borrow<py::object>(object);
  } else if (py::hasattr(object, "__dlpack__")) {
    capsule = object.attr("__dlpack__")();
  } else {
    throw py::type_error("expected a tensor supporting DLPack (torch.Tensor, numpy.ndarray, ...), got " +
                         std::string(py::str(py::type::handle_of(object).attr("__name__"))));
  }
  if (!PyCapsule_IsValid(capsule.ptr(), fresh_name)) {
    throw py::type_error("__dlpack__() did not return an unconsumed 'dltensor' capsule");
  }
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), fresh_name));
  PyCapsule_SetName(capsule.ptr(), used_name);
  try {
    return tensor::from_dlpack(managed);  // owns `managed` now, even when it throws
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

}  // namespace trickle::python
