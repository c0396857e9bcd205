"""The tutorial's iris SVM: an RBF support-vector machine on scikit-learn's bundled iris data.

As a script (each run recorded in ./my_runs by the FileStorageObserver)::

    $ python examples/iris_svm.py with C=10 gamma=0.1
    INFO - iris_rbf_svm - Running command 'run'
    INFO - iris_rbf_svm - Started run with ID "1"
    INFO - iris_rbf_svm - Result: 0.9666666666666667
    INFO - iris_rbf_svm - Completed after 0:00:00

As a sweep under pytest (one case per variant, each recorded in .sacredx and in ./my_runs)::

    $ python -m pytest examples/iris_svm.py --exp-config gamma=0.1,0.7 --exp-config C=1,10
    examples/iris_svm.py ....
    ============================ experiment runs =============================
    case                          status     result  accuracy  …
    iris_rbf_svm[C=1-gamma=0.1]   COMPLETED  0.95    0.95      …
"""

from numpy.random import permutation
from sklearn import datasets, svm

from pytest_sacredx import Experiment
from pytest_sacredx.observers import FileStorageObserver

ex = Experiment("iris_rbf_svm")
ex.observers.append(FileStorageObserver("my_runs"))


@ex.config
def cfg():
    C = 1.0  # inverse strength of the regularization
    gamma = 0.7  # width of the RBF kernel
    train_size = 90  # samples to train on; the rest is the test set


@ex.automain
def run(C, gamma, train_size, _run):
    iris = datasets.load_iris()
    per = permutation(iris.target.size)  # NumPy's global RNG is seeded with the run's seed
    data, target = iris.data[per], iris.target[per]
    clf = svm.SVC(C=C, kernel="rbf", gamma=gamma)
    clf.fit(data[:train_size], target[:train_size])
    accuracy = clf.score(data[train_size:], target[train_size:])
    _run.log_scalar("accuracy", accuracy)
    return accuracy
